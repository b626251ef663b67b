"""The automatic range test measures the metric often enough to read it, even when its linear sweep diverges early."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from cyclr.suggest import first_peak
from cyclr.torch import LRFinder


def digits_finder() -> tuple[LRFinder, list[tuple[torch.Tensor, torch.Tensor]], nn.Module]:
    """A small MLP on scikit-learn's digits, with a validation accuracy on the last 597 images."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    train = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 1200, 32)]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def val_fn(m: nn.Module) -> dict[str, float]:
        with torch.no_grad():
            return {"val_accuracy": float((m(x[1200:]).argmax(1) == y[1200:]).float().mean())}

    return LRFinder(model, optimizer, nn.CrossEntropyLoss(), val_fn=val_fn, progress=False), train, model


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_an_early_divergence_is_swept_again_for_enough_metric_points() -> None:
    finder, train, _ = digits_finder()
    # a strict divergence threshold stops the first linear sweep about half way: 5 measurements
    result = finder.range_test(train, num_iter=100, val_every=10, diverge_th=1.5)
    assert result.settings["second_sweep"] == "diverged"
    assert result.settings["first_linear_metric_points"] < 12
    assert result.sweep is not None
    assert result.sweep.end_lr < result.settings["first_linear_end"]
    assert len(result.metric_steps) > result.settings["first_linear_metric_points"]
    b = result.suggest()
    assert b.method == "metric"
    assert math.isfinite(b.max_lr)


def test_a_rise_in_the_first_measurements_is_swept_again_finer() -> None:
    finder, train, model = digits_finder()
    before = [p.detach().clone() for p in model.parameters()]
    result = finder.range_test(train, num_iter=150, val_every=5)
    # the first linear sweep (to twice the coarse minimum) had the accuracy peak within its
    # first measurements; the second ran to twice that peak's LR, with as many measurements
    assert result.settings["second_sweep"] == "zoom"
    assert result.sweep is not None and result.sweep.end_lr < 0.75 * result.settings["first_linear_end"]
    assert len(result) == 150 and len(result.metric_steps) == 30
    peak = first_peak(result.metric_lrs, result.metrics["val_accuracy"])
    assert peak is not None and peak[0] < result.sweep.end_lr
    assert result.suggest().method == "metric"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # restored after three sweeps
