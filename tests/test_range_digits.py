"""The automatic range test on a real task: scikit-learn's digits, a small MLP, SGD.

The curves are recorded at test time (a fraction of a second on one thread).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from torch import nn

from cyclr import RangeTestResult
from cyclr.torch import LRFinder


class Batches:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, size: int, seed: int | None) -> None:
        self.x, self.y, self.size = x, y, size
        self.g = None if seed is None else torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.size)

    def __iter__(self) -> Any:
        n = len(self.x)
        order = torch.arange(n) if self.g is None else torch.randperm(n, generator=self.g)
        for i in range(0, n, self.size):
            yield self.x[order[i : i + self.size]], self.y[order[i : i + self.size]]


@pytest.fixture(scope="module")
def digits_result() -> RangeTestResult:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, y = load_digits(return_X_y=True)
        x = torch.tensor(x / 16.0, dtype=torch.float32)
        y = torch.tensor(y)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        train, val = perm[:1200], perm[1200:1500]
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        return LRFinder(model, opt, nn.CrossEntropyLoss(), progress=False).range_test(
            Batches(x[train], y[train], 32, seed=0), Batches(x[val], y[val], 100, seed=None)
        )
    finally:
        torch.set_num_threads(threads)


def test_automatic_mode_chooses_a_linear_range(digits_result: RangeTestResult) -> None:
    coarse = digits_result.coarse
    assert coarse is not None and coarse.log_scale and coarse.stop_reason in ("diverged", "finished")
    assert digits_result.sweep is not None and digits_result.sweep.step_mode == "linear"
    assert digits_result.lrs[0] == 0.0 and 0.1 < digits_result.lrs[-1] < 5.0
    assert len(digits_result) == 8 * 38  # 8 epochs of 38 batches
    assert digits_result.metric_steps.size >= 25


def test_paper_reading_gives_sensible_bounds(digits_result: RangeTestResult) -> None:
    bounds = digits_result.suggest()
    assert bounds.method == "metric" and bounds.details["metric"] == "val_accuracy"
    # constant SGD+momentum trains well from ~0.03 to ~0.3 here and collapses at 0.5
    assert 0.03 <= bounds.max_lr <= 0.4
    assert bounds.max_lr / 20 <= bounds.base_lr <= bounds.max_lr / 3 + 1e-12
    assert bounds.max_lr < bounds.details["peak_lr"]
    acc = digits_result.metrics["val_accuracy"]
    assert acc.max() > 0.85 and acc[0] < acc.max() - 0.3


def test_loss_readings_on_the_real_curves(digits_result: RangeTestResult) -> None:
    coarse = digits_result.coarse
    assert coarse is not None
    for method in ("valley", "steepest", "min_div10"):
        bounds = coarse.suggest(method)
        assert 1e-3 < bounds.max_lr < 1.0, method
    assert 0.01 < digits_result.suggest("valley").max_lr < 1.0


def test_real_result_round_trips(digits_result: RangeTestResult, tmp_path: Any) -> None:
    digits_result.save(tmp_path / "digits.json")
    back = RangeTestResult.load(tmp_path / "digits.json")
    assert back == digits_result and back.coarse == digits_result.coarse
    assert back.suggest() == digits_result.suggest()


def test_plot_of_the_real_result(digits_result: RangeTestResult) -> None:
    fig = digits_result.plot()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3  # loss, metric, coarse sweep
    assert "max_lr=" in fig._suptitle.get_text()  # type: ignore[union-attr]
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.isfinite(digits_result.losses).all()
