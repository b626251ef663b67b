"""RangeTestRecorder and RangeTestResult: recording, stopping, persistence."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyclr import RangeSweep
from cyclr.rangetest import RangeTestRecorder, RangeTestResult
from cyclr.suggest import Bounds, NoSuggestionError, ema


def record(losses, sweep=None, metrics_every=0, **kwargs) -> RangeTestRecorder:
    sweep = sweep or RangeSweep(1e-4, 1.0, len(losses), "exp")
    rec = RangeTestRecorder(sweep, **kwargs)
    for i, loss in enumerate(losses):
        if rec.record_loss(loss):
            break
        if metrics_every and i % metrics_every == metrics_every - 1:
            rec.record_metrics({"val_loss": loss, "val_accuracy": 1.0 / (1.0 + loss)})
    return rec


def test_import_cyclr_stays_light() -> None:
    code = "import sys, cyclr; cyclr.RangeTestResult; cyclr.Bounds; print('numpy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", "import sys, cyclr; print('numpy' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]


def test_lrs_follow_the_sweep_and_finish() -> None:
    sweep = RangeSweep(0.0, 0.5, 20)
    rec = record([1.0] * 20, sweep=sweep)
    res = rec.result()
    assert res.stop_reason == "finished" and res.stop_step is None and res.stop_lr is None
    assert res.lrs.tolist() == [sweep(i) for i in range(20)]
    assert res.lrs[-1] == 0.5 and rec.done


def test_smoothed_loss_is_bias_corrected_ema() -> None:
    losses = [3.0, 2.0, 2.5, 1.0, 0.7, 0.9]
    res = record(losses, smooth_beta=0.9).result()
    np.testing.assert_allclose(res.smoothed_losses, ema(losses, 0.9), rtol=0, atol=1e-15)
    assert res.smoothed_losses[0] == 3.0  # bias correction: the first value is the loss itself


def test_divergence_stops_on_smoothed_loss() -> None:
    losses = [1.0, 0.8, 0.5, 0.4, 0.4, 1.5, 30.0, 300.0, 3000.0, 1.0]
    rec = record(losses, smooth_beta=0.0, diverge_th=4.0)
    res = rec.result()
    assert res.stop_reason == "diverged"
    assert res.stop_step == 6 and res.losses.tolist() == losses[:7]
    assert res.stop_lr == res.lrs[6]
    with pytest.raises(RuntimeError):
        rec.record_loss(1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_stops_and_is_not_recorded(bad: float) -> None:
    rec = record([1.0, 0.9, bad, 0.5])
    res = rec.result()
    assert res.stop_reason == "non_finite"
    assert res.losses.tolist() == [1.0, 0.9] and res.stop_step == 2
    assert res.stop_lr == RangeSweep(1e-4, 1.0, 4, "exp")(2)


def test_runner_stop_reasons() -> None:
    rec = record([1.0, 0.9], sweep=RangeSweep(0.0, 1.0, 10))
    assert not rec.done
    assert rec.result().stop_reason == "interrupted"
    assert rec.result("error").stop_reason == "error"
    assert rec.result("interrupted").stop_reason == "error"  # the first reason sticks


def test_record_metrics_rules() -> None:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 10))
    with pytest.raises(RuntimeError):
        rec.record_metrics({"acc": 0.1})
    rec.record_loss(1.0)
    rec.record_metrics({"acc": 0.1})
    with pytest.raises(ValueError, match="already recorded"):
        rec.record_metrics({"acc": 0.2})
    rec.record_loss(1.0)
    with pytest.raises(ValueError, match="same names"):
        rec.record_metrics({"top5": 0.2})
    with pytest.raises(ValueError, match="non-empty"):
        rec.record_metrics({})
    rec.record_metrics({"acc": 0.3})
    res = rec.result()
    assert res.metric_steps.tolist() == [0, 1]
    assert res.metric_lrs.tolist() == [0.0, 1.0 / 9]


def test_a_bad_metric_value_records_nothing() -> None:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 10))
    rec.record_loss(1.0)
    with pytest.raises(TypeError, match=r"metrics\['top5'\] must be a real number, got 'x'"):
        rec.record_metrics({"acc": 0.1, "top5": "x"})
    rec.record_metrics({"acc": 0.2, "top5": 0.5})  # the step is still free, no half-recorded metric
    res = rec.result()
    assert res.metric_steps.tolist() == [0]
    assert res.metrics["acc"].tolist() == [0.2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"smooth_beta": 1.0}, "smooth_beta"),
        ({"smooth_beta": -0.1}, "smooth_beta"),
        ({"diverge_th": 1.0}, "diverge_th"),
        ({"diverge_th": "5"}, "diverge_th"),
    ],
)
def test_recorder_rejects_bad_settings(kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        RangeTestRecorder(RangeSweep(0.0, 1.0, 10), **kwargs)


def test_recorder_needs_a_sweep() -> None:
    with pytest.raises(TypeError, match="sweep"):
        RangeTestRecorder({"start_lr": 0.0})  # type: ignore[arg-type]


finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(losses=st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=40),
       metric=st.lists(finite, min_size=1, max_size=5))
def test_json_round_trip_is_exact(tmp_path_factory, losses, metric) -> None:
    rec = RangeTestRecorder(RangeSweep(1e-7, 10.0, 40, "exp"), settings={"group_ratios": [1.0, 0.1]})
    for i, loss in enumerate(losses):
        if rec.record_loss(loss):
            break
        if i < len(metric):
            rec.record_metrics({"val_accuracy": metric[i]})
    res = rec.result()
    res.coarse = record([2.0, 1.0, 0.5]).result()
    path = tmp_path_factory.mktemp("rt") / "curve.json"
    res.save(path)
    back = RangeTestResult.load(path)
    assert back == res
    for name in ("lrs", "losses", "smoothed_losses", "metric_steps"):
        assert getattr(back, name).tobytes() == getattr(res, name).tobytes()
    assert back.metrics["val_accuracy"].tobytes() == res.metrics["val_accuracy"].tobytes() if res.metrics else True
    assert back.coarse == res.coarse and back.settings == json.loads(json.dumps(res.settings))


def test_nan_metric_round_trip(tmp_path) -> None:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 3))
    rec.record_loss(1.0)
    rec.record_metrics({"val_accuracy": math.nan})
    res = rec.result()
    res.save(tmp_path / "r.json")
    assert RangeTestResult.load(tmp_path / "r.json") == res


def test_load_rejects_other_json(tmp_path) -> None:
    (tmp_path / "x.json").write_text('{"lrs": []}')
    with pytest.raises(ValueError, match="format"):
        RangeTestResult.load(tmp_path / "x.json")


def test_csv_export(tmp_path) -> None:
    res = record([2.0, 1.5, 1.2, 1.0, 0.9, 0.85], metrics_every=2).result()
    res.to_csv(tmp_path / "curve.csv")
    rows = list(csv.DictReader(open(tmp_path / "curve.csv")))
    assert [r["step"] for r in rows] == [str(i) for i in range(6)]
    assert [float(r["lr"]) for r in rows] == res.lrs.tolist()
    assert [float(r["smoothed_loss"]) for r in rows] == res.smoothed_losses.tolist()
    assert [r["val_accuracy"] != "" for r in rows] == [False, True] * 3
    assert float(rows[5]["val_loss"]) == 0.85


def test_result_validates_shapes() -> None:
    with pytest.raises(ValueError, match="one length"):
        RangeTestResult([0.1, 0.2], [1.0], [1.0])
    with pytest.raises(ValueError, match="metric 'acc'"):
        RangeTestResult([0.1], [1.0], [1.0], metrics={"acc": [1, 2]}, metric_steps=[0])
    with pytest.raises(ValueError, match="metric_steps"):
        RangeTestResult([0.1], [1.0], [1.0], metrics={"acc": [1]}, metric_steps=[3])
    with pytest.raises(ValueError, match="stop_reason"):
        RangeTestResult([0.1], [1.0], [1.0], stop_reason="bored")


def test_suggest_dispatch() -> None:
    lrs = np.geomspace(1e-4, 1.0, 200)
    loss = 2.0 / (1 + lrs / 1e-2) + 50 * lrs**2
    res = record(loss.tolist(), sweep=RangeSweep(1e-4, 1.0, 200, "exp"), smooth_beta=0.5).result()
    auto = res.suggest()
    assert isinstance(auto, Bounds) and auto.method == "valley"
    assert res.suggest("steepest").method == "steepest"
    with pytest.raises(NoSuggestionError, match="no metric"):
        res.suggest("metric")
    with pytest.raises(ValueError, match="method"):
        res.suggest("peak")


def test_suggest_uses_accuracy_metric_by_default() -> None:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 100))
    for i in range(100):
        rec.record_loss(1.0)
        if i % 4 == 3:
            lr = rec.lr(i)
            rec.record_metrics({"val_loss": 1.0 - lr, "val_acc": min(lr / 0.3, 1.0) - max(0.0, lr - 0.6)})
    res = rec.result()
    bounds = res.suggest()
    assert bounds.method == "metric" and bounds.details["metric"] == "val_acc"
    assert 0.0 < bounds.base_lr < 0.1 and 0.15 < bounds.max_lr <= 0.35
    with pytest.raises(ValueError, match="metric must be one of"):
        res.suggest(metric="top5")
    assert res.suggest(metric="val_loss").details["metric"] == "val_loss"


def test_auto_falls_back_to_the_loss_with_a_warning_when_the_metric_is_flat() -> None:
    sweep = RangeSweep(1e-4, 1.0, 200, "exp")
    rec = RangeTestRecorder(sweep, smooth_beta=0.5)
    for i in range(200):
        lr = sweep(i)
        if rec.record_loss(2.0 / (1 + lr / 1e-2) + 50 * lr**2):
            break
        if i % 5 == 4:
            rec.record_metrics({"val_accuracy": 0.5})
    res = rec.result()
    bounds = res.suggest()
    assert bounds.method == "valley"
    assert "val_accuracy" in bounds.warnings[0] and "flat" in bounds.warnings[0]
    with pytest.raises(NoSuggestionError, match="flat"):
        res.suggest("metric")


@given(
    st.lists(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False), min_size=1, max_size=60),
    st.floats(min_value=0.0, max_value=0.999),
)
@settings(max_examples=60, deadline=None)
def test_the_recorder_ema_is_suggest_ema_bit_for_bit(losses: list[float], beta: float) -> None:
    sweep = RangeSweep(0.0, 1.0, len(losses))
    rec = RangeTestRecorder(sweep, smooth_beta=beta, diverge_th=1e300)
    for loss in losses:
        rec.record_loss(loss)
    res = rec.result()
    assert res.ema_losses.tolist() == ema(losses, beta).tolist()
    assert rec.ema_loss == rec.smoothed_loss == res.ema_losses[-1]


def test_smoothed_losses_is_the_older_name_of_ema_losses_and_the_file_key(tmp_path) -> None:
    res = record([3.0, 2.0, 2.5], smooth_beta=0.5).result()
    assert res.smoothed_losses is res.ema_losses
    assert res.to_dict()["smoothed_losses"] == res.ema_losses.tolist()
    res.save(tmp_path / "r.json")
    assert RangeTestResult.load(tmp_path / "r.json").ema_losses.tolist() == res.ema_losses.tolist()


def test_suggest_is_the_reading_policy_over_the_curve() -> None:
    from cyclr.suggest import suggest_bounds

    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 100), settings={"group_ratios": [1.0, 0.5]})
    for i in range(100):
        rec.record_loss(1.0)
        if i % 4 == 3:
            lr = rec.lr(i)
            rec.record_metrics({"val_loss": 1.0 - lr, "val_acc": min(lr / 0.3, 1.0) - max(0.0, lr - 0.6)})
    res = rec.result()
    for method, metric in (("auto", None), ("metric", "val_loss")):
        direct = suggest_bounds(res.lrs, res.losses, res.metrics, res.metric_lrs, method=method, metric=metric,
                                log_x=res.log_scale, group_ratios=(1.0, 0.5))
        assert res.suggest(method, metric=metric) == direct
        assert direct.group_ratios == (1.0, 0.5)
