"""The automatic range test measures the metric often enough to read it, even when its linear sweep diverges early."""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits
from torch import nn

from cyclr.torch import LRFinder


def test_an_early_divergence_is_swept_again_for_enough_metric_points() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
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

        finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), val_fn=val_fn, progress=False)
        # a strict divergence threshold stops the first linear sweep about half way: 5 measurements
        result = finder.range_test(train, num_iter=100, val_every=10, diverge_th=1.5)
    finally:
        torch.set_num_threads(threads)
    assert result.settings["first_linear_metric_points"] < 12
    assert result.sweep is not None
    assert result.sweep.end_lr < result.settings["first_linear_end"]
    assert len(result.metric_steps) > result.settings["first_linear_metric_points"]
    b = result.suggest()
    assert b.method == "metric"
    assert math.isfinite(b.max_lr)
