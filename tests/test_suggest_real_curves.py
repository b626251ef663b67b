"""The readings on curves recorded from real range tests (tests/data/range_curves.json).

``digits_*``: loss-only range tests of a small MLP on scikit-learn's digits
(batch 2: a very noisy loss). The others: the automatic range test of
benchmarks/suggest_suite.py (linear sweep, validation metric every ~3 steps).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from cyclr.rangetest import RangeTestResult
from cyclr.suggest import (
    LOSS_METHODS,
    Bounds,
    NoSuggestionError,
    bounds_from_loss,
    bounds_from_metric,
    first_peak,
    noise_level,
    signal_factor,
    smooth,
    suggest_bounds,
)

CURVES: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "range_curves.json").read_text())


def metric_bounds(name: str) -> Bounds:
    c = CURVES[name]
    return bounds_from_metric(c["metric_lrs"], c["metric_values"], higher_is_better="acc" in c["metric"])


# --- the loss-only reading ---------------------------------------------------------------


def test_a_loss_falling_by_five_noise_levels_is_read() -> None:
    # a real curve whose loss falls by exactly 5 noise levels (1.00 vs 0.20): the
    # old rule (drop must exceed 5x) refused it with every method
    c = CURVES["digits_batch2_linear_to_0.015"]
    y = np.asarray(c["losses"])[10:-10]  # what the readings keep (5% trimmed each end)
    s = smooth(np.asarray(c["losses"]))[10:-10]
    low = int(np.argmin(s))
    assert (s[: low + 1].max() - s[low]) / noise_level(y) == pytest.approx(5.0, abs=0.1)
    expected = {"valley": 0.0086, "steepest": 0.013, "min_div10": 0.00143}
    for method in LOSS_METHODS:
        b = bounds_from_loss(c["lrs"], c["losses"], method=method)
        assert b.max_lr == pytest.approx(expected[method], rel=0.15), method
        assert b.base_lr == pytest.approx(b.max_lr / 4)
        # the loss is lowest at the sweep's end and still falling there: the warning is true
        assert any("still falling" in w for w in b.warnings)
        low_lr, high_lr = b.max_lr_interval  # type: ignore[misc]
        assert low_lr <= b.max_lr <= high_lr
        assert b.max_lr <= b.one_cycle_max_lr <= b.details["min_lr"]  # type: ignore[operator]


def test_a_loss_that_does_not_move_is_refused() -> None:
    # the same model at LRs of 1e-7..1e-6: nothing trains, the curve is noise
    c = CURVES["digits_batch2_linear_tiny_lr"]
    for method in LOSS_METHODS:
        with pytest.raises(NoSuggestionError, match="flat"):
            bounds_from_loss(c["lrs"], c["losses"], method=method)


def test_a_clear_fall_before_a_ragged_tail_is_read() -> None:
    # breast-cancer MLP, no val_loader: the loss falls from 0.73 to 0.03 in 20 steps, then the per-batch
    # loss jumps between 0 and 1.7 until training diverges. Measured over the whole curve, the tail's
    # spikes made the noise 0.15 and the fall "unclear" (3.8 noise levels); up to where 90% of the fall
    # is done the noise is that of the fall itself.
    c = CURVES["cancer_mlp_seed0_no_val"]
    y = np.asarray(c["losses"])
    kept = y[4:-4]  # what the reading keeps (5% trimmed each end)
    assert 0.57 / noise_level(kept) < signal_factor(kept.size)  # the whole curve's noise would refuse it
    b = suggest_bounds(c["lrs"], c["losses"])
    assert b.method == "valley" and b.warnings == ()
    assert b.details["drop"] == pytest.approx(0.576, abs=0.01)
    assert b.max_lr == pytest.approx(0.068, rel=0.15)
    assert b.max_lr < b.details["min_lr"] < c["lrs"][-1]


def test_a_loss_that_barely_fell_on_a_linear_sweep_warns() -> None:
    # 1-D CNN, no val_loader: the loss falls only from 1.39 to 1.27 before training turns unstable.
    # Training CLR on the valley (2.6x the best constant LR) collapsed; the warning says why it is fragile.
    c = CURVES["signal1d_cnn_seed0_no_val"]
    b = suggest_bounds(c["lrs"], c["losses"])
    assert b.max_lr == pytest.approx(0.263, rel=0.15)
    assert [w for w in b.warnings if "fell by only 9% of its level (1.39 to 1.27)" in w and "val_loader" in w]
    # an exponential sweep spends most steps at tiny LRs and falls this little as a rule: no warning
    assert suggest_bounds(c["lrs"][1:], c["losses"][1:], log_x=True).warnings == ()
    # a loss that fell by most of its level does not warn
    cancer = CURVES["cancer_mlp_seed0_no_val"]
    assert not [w for w in suggest_bounds(cancer["lrs"], cancer["losses"]).warnings if "fell by only" in w]
    # nor one that can go below zero, where a fraction of its level means nothing
    shifted = suggest_bounds(c["lrs"], np.asarray(c["losses"]) - 2.0)
    assert not [w for w in shifted.warnings if "fell by only" in w]


def test_signal_factor() -> None:
    assert signal_factor(20) == 5.0 and signal_factor(36) == pytest.approx(5.0)
    assert signal_factor(100) == pytest.approx(4.2)
    assert signal_factor(300) < signal_factor(100)


def test_pure_noise_is_refused_in_most_curves() -> None:
    # the factor is the 99th percentile of a smoothed Gaussian-noise curve's drop
    rng = np.random.default_rng(0)
    lrs = np.geomspace(1e-5, 1.0, 100)
    refused = 0
    for _ in range(200):
        try:
            bounds_from_loss(lrs, 2.0 + 0.1 * rng.normal(size=lrs.size))
        except NoSuggestionError:
            refused += 1
    assert refused >= 194


# --- the metric reading ------------------------------------------------------------------


def test_a_plateau_past_the_knee_reads_half_the_peak() -> None:
    # MNIST CNN, SGD: accuracy rises by 0.08, then stays within noise of its top up to
    # ~0.3; the knee (0.076) was timid, the best constant LR of the training runs was 0.1
    b = metric_bounds("mnist_cnn_seed1")
    assert b.details["peak_lr"] == pytest.approx(0.204, rel=0.1)
    assert b.max_lr == pytest.approx(0.102, rel=0.1)
    assert b.base_lr == pytest.approx(0.0247, rel=0.1)
    assert b.one_cycle_max_lr == pytest.approx(0.204, rel=0.1)
    low, high = b.max_lr_interval  # type: ignore[misc]
    assert low < b.max_lr < high and high > 1.5 * b.max_lr  # on a plateau: many LRs read alike
    assert b.warnings == ()


def test_a_higher_peak_past_a_deep_dip_is_not_used() -> None:
    # BN CNN, Adam: a first hump at ~0.035, a dip to 0.45, a higher second hump at ~0.2
    b = metric_bounds("digits_bn_cnn_seed0")
    assert b.details["peak_lr"] < 0.05
    assert b.max_lr == pytest.approx(0.027, rel=0.15)
    assert b.one_cycle_max_lr < 0.05


def test_val_loss_reading_and_no_false_still_rising_warning() -> None:
    b = metric_bounds("diabetes_mlp_seed0")
    assert b.max_lr == pytest.approx(0.0156, rel=0.15)
    assert b.base_lr == pytest.approx(0.0038, rel=0.15)
    assert not any("still rising" in w for w in b.warnings)


def test_a_second_rise_past_a_dip_is_named_as_such() -> None:
    # small ResNet: accuracy tops its first rise at 0.027, dips to 0.15, and climbs again over the
    # last fifth of the sweep. A higher end_lr would not change the reading (it keeps to the first
    # peak), so the warning says what happened instead of "end_lr may be too low".
    warnings = metric_bounds("digits_resnet_seed2").warnings
    assert not any("end_lr" in w for w in warnings)
    assert any("rises again at the end of the sweep, past a dip after its first peak at lr=0.0266" in w
               for w in warnings)
    # the first rise still going at the end of the sweep: end_lr was too low
    c = CURVES["digits_resnet_seed2"]
    cut = int(np.searchsorted(c["metric_lrs"], 0.024))
    assert any("end_lr may be too low" in w for w in
               bounds_from_metric(c["metric_lrs"][:cut], c["metric_values"][:cut]).warnings)


def test_flat_val_loss_near_zero_does_not_warn() -> None:
    lrs = np.linspace(0.001, 0.1, 33)
    val_loss = 2.0 * np.exp(-lrs / 0.005)  # falls, then rests near 0, lowest (barely) at the end
    b = bounds_from_metric(lrs, val_loss, higher_is_better=False)
    assert b.warnings == ()
    rising = bounds_from_metric(lrs, np.interp(lrs, [0.0, 0.1], [0.1, 0.9]))
    assert any("still rising" in w for w in rising.warnings)


def test_ragged_metric_is_refused_and_the_loss_is_read() -> None:
    # 1-D CNN: accuracy 0.25..0.45, ragged (range 4.6 noise levels over 32 points)
    c = CURVES["signal1d_cnn_seed2"]
    with pytest.raises(NoSuggestionError, match="flat"):
        bounds_from_metric(c["metric_lrs"], c["metric_values"])
    b = bounds_from_loss(c["lrs"], c["losses"])
    assert b.max_lr == pytest.approx(0.287, rel=0.15)


# --- Bounds ------------------------------------------------------------------------------


def test_bounds_one_cycle_and_interval() -> None:
    b = Bounds(0.01, 0.04, "metric")
    assert b.one_cycle_max_lr == 0.04 and b.max_lr_interval is None
    assert b.one_cycle_lr_kwargs(total_steps=100) == {"max_lr": 0.04, "total_steps": 100}
    g = Bounds(0.01, 0.04, "metric", group_ratios=(1.0, 0.1), one_cycle_max_lr=0.1, max_lr_interval=(0.03, 0.05))
    assert g.one_cycle_lr_kwargs()["max_lr"] == pytest.approx([0.1, 0.01])
    d = g.to_dict()
    assert d["max_lr_interval"] == [0.03, 0.05] and d["one_cycle_max_lr"] == 0.1
    json.dumps(d)
    text = str(g)
    assert "max_lr interval: 0.03 .. 0.05" in text and "1cycle max_lr: 0.1" in text
    with pytest.raises(ValueError, match="one_cycle_max_lr"):
        Bounds(0.01, 0.04, "metric", one_cycle_max_lr=0.02)
    with pytest.raises(ValueError, match="max_lr_interval"):
        Bounds(0.01, 0.04, "metric", max_lr_interval=(0.05, 0.06))
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": [params[0]]}, {"params": [params[1]]}], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **g.one_cycle_lr_kwargs(total_steps=10))
    assert [group["max_lr"] for group in opt.param_groups] == pytest.approx([0.1, 0.01])
    del sched


def test_a_ragged_stretch_past_the_peak_does_not_hide_a_clear_rise() -> None:
    # BN CNN, Adam, first linear sweep: accuracy 0.13 -> 0.75 over four measurements, then
    # jumps between 0.32 and 0.89 for the remaining 27 (batch norm at high LRs). Measured over
    # the whole curve, that raggedness made the rise look like noise ("flat"); the noise of
    # the usable part is what the rise is weighed against.
    c = CURVES["digits_bn_cnn_seed1_first_sweep"]
    b = bounds_from_metric(c["metric_lrs"], c["metric_values"])
    assert b.method == "metric"
    assert 0.01 < b.max_lr < b.details["peak_lr"] < 0.05
    assert noise_level(c["metric_values"]) > b.details["noise"]
    peak_lr, points = first_peak(c["metric_lrs"], c["metric_values"])  # type: ignore[misc]
    assert peak_lr == b.details["peak_lr"] and points <= 6


def test_the_finer_second_sweep_reads_below_the_first() -> None:
    # GRU, Adam: the first sweep (to 0.277) put the rise in 4 points and max_lr at 0.047,
    # above the LR whose constant runs collapsed (0.0316); the second sweep, to 0.189, rises
    # more slowly in LR and reads it lower
    first = metric_bounds("digits_rows_gru_seed0_first_sweep")
    second = metric_bounds("digits_rows_gru_seed0_second_sweep")
    assert first.max_lr == pytest.approx(0.047, rel=0.05)
    assert second.max_lr < 0.0316 < first.max_lr


def test_first_peak_is_none_without_a_rise() -> None:
    lrs = np.linspace(0.0, 1.0, 30)
    assert first_peak(lrs, np.full(30, 0.5)) is None
    assert first_peak(lrs, np.linspace(0.9, 0.1, 30)) is None  # only falls: the sweep starts too high
    assert first_peak(lrs[:3], [0.1, 0.5, 0.4]) is None  # too few points


def test_a_diverged_sweep_does_not_say_end_lr_was_too_low() -> None:
    lrs = np.linspace(0.0, 0.3, 60)
    losses = 2.0 - 5 * lrs
    accuracy = np.interp(lrs[::4], [0.0, 0.3], [0.1, 0.9])  # rising up to the last measurement
    result = RangeTestResult(lrs, losses, smooth(losses), metrics={"val_accuracy": accuracy},
                             metric_steps=np.arange(0, 60, 4), stop_reason="diverged", stop_step=59)
    warnings = result.suggest().warnings
    assert not any("end_lr" in w for w in warnings)
    assert any("still rising where training diverged" in w for w in warnings)
    finished = RangeTestResult(lrs, losses, smooth(losses), metrics={"val_accuracy": accuracy},
                               metric_steps=np.arange(0, 60, 4))
    assert any("end_lr may be too low" in w for w in finished.suggest().warnings)
