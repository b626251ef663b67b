"""cyclr.plot.plot_range_test on synthetic curves."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from cyclr import RangeSweep
from cyclr.plot import plot_range_test
from cyclr.rangetest import RangeTestRecorder, RangeTestResult
from cyclr.suggest import Bounds


def exp_result(diverge: bool = True, metrics: bool = False) -> RangeTestResult:
    sweep = RangeSweep(1e-5, 10.0, 150, "exp")
    rec = RangeTestRecorder(sweep, smooth_beta=0.5)
    for i in range(150):
        lr = sweep(i)
        loss = 2.3 - 1.5 / (1 + (1e-2 / lr) ** 2) + (50 * lr**2 if diverge else 0.0)
        if rec.record_loss(loss):
            break
        if metrics and i % 10 == 9:
            rec.record_metrics({"val_accuracy": 1.0 - loss / 2.3, "val_loss": loss})
    return rec.result()


def title(fig: Figure) -> str:
    return fig._suptitle.get_text()  # type: ignore[union-attr]


def test_exp_sweep_plots_on_log_axis_with_bounds_and_divergence() -> None:
    result = exp_result()
    assert result.stop_reason == "diverged"
    fig = plot_range_test(result)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert "diverged" in [t.get_text() for t in ax.texts]
    assert "max_lr=" in title(fig)
    labels = ax.get_legend_handles_labels()[1]
    assert "loss" in labels and any("smooth" in label for label in labels)


def test_metrics_get_their_own_panel() -> None:
    fig = exp_result(metrics=True).plot()
    loss_ax, metric_ax = fig.axes
    assert "val_loss" in loss_ax.get_legend_handles_labels()[1]
    assert metric_ax.get_legend_handles_labels()[1] == ["val_accuracy"]


def test_explicit_bounds_none_and_linear_axis() -> None:
    result = exp_result()
    fig = plot_range_test(result, bounds=Bounds(1e-3, 4e-3, "manual"), log_x=False)
    assert fig.axes[0].get_xscale() == "linear"
    assert "0.004" in title(fig)
    assert "max_lr" not in title(plot_range_test(result, bounds=None))
    with pytest.raises(ValueError, match="bounds"):
        plot_range_test(result, bounds="peak")


def test_curve_without_signal_says_so() -> None:
    flat = RangeTestResult(np.geomspace(1e-4, 1.0, 50), np.full(50, 2.3), np.full(50, 2.3),
                           settings={"sweep": RangeSweep(1e-4, 1.0, 50, "exp").to_dict()})
    assert "no suggestion" in title(flat.plot())


def test_empty_result_plots() -> None:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 10))
    rec.record_loss(float("nan"))
    fig = rec.result().plot()
    assert isinstance(fig, Figure) and "non_finite" in title(fig)
