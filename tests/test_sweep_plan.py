"""cyclr.sweep_plan: the range test's planning, and the contract that every finder plans alike."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclr import NoSuggestionError, RangeSweep
from cyclr.rangetest import RangeTestRecorder, RangeTestResult
from cyclr.suggest import first_peak
from cyclr.sweep_plan import (
    COARSE_START_LR,
    MIN_METRIC_POINTS,
    ZOOM_FACTOR,
    SweepPlan,
    auto_num_iter,
    check_not_exhausted,
    default_step_mode,
    default_val_every,
    linear_end_from_coarse,
    partial_result,
    progress_bar,
    second_sweep_end,
)

CURVES: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "range_curves.json").read_text())


def test_defaults_are_the_automatic_two_stage_mode() -> None:
    plan = SweepPlan.build(batches_per_epoch=38)
    assert plan.two_stage and plan.sweep is None
    assert plan.coarse_sweep() == RangeSweep(COARSE_START_LR, 10.0, 100, "exp")
    assert plan.num_iter == 8 * 38 and plan.val_every == 8 * 38 // 30
    assert plan.val_batches is None and plan.smooth_beta is None and plan.diverge_th == 5.0


@pytest.mark.parametrize(
    ("options", "sweep"),
    [
        ({"start_lr": 0.0, "end_lr": 1.0, "num_iter": 50}, RangeSweep(0.0, 1.0, 50, "linear")),
        ({"start_lr": 0.01, "end_lr": 0.5, "num_iter": 50}, RangeSweep(0.01, 0.5, 50, "linear")),
        ({"start_lr": 1e-5, "end_lr": 1.0, "num_iter": 50}, RangeSweep(1e-5, 1.0, 50, "exp")),
        ({"start_lr": 1e-5, "end_lr": 1.0, "num_iter": 50, "step_mode": "linear"}, RangeSweep(1e-5, 1.0, 50)),
        ({"end_lr": 1.0, "num_iter": 50, "step_mode": "exp"}, RangeSweep(COARSE_START_LR, 1.0, 50, "exp")),
    ],
)
def test_a_single_sweep(options: dict[str, Any], sweep: RangeSweep) -> None:
    plan = SweepPlan.build(**options)
    assert not plan.two_stage and plan.sweep == sweep


def test_the_rules() -> None:
    assert [default_step_mode(0.0, 1.0), default_step_mode(0.01, 0.99), default_step_mode(0.01, 1.0)] == [
        "linear", "linear", "exp"]
    assert [auto_num_iter(5), auto_num_iter(38), auto_num_iter(38, 2), auto_num_iter(10**6), auto_num_iter(None)] == [
        100, 304, 152, 1000, 300]
    assert [default_val_every(n) for n in (1, 29, 30, 304, 1000)] == [1, 1, 1, 10, 33]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"start_lr": -1.0}, ValueError, r"start_lr must be >= 0, got start_lr=-1.0"),
        ({"end_lr": 0.0}, ValueError, r"end_lr must be > 0"),
        ({"end_lr": 1e-8}, ValueError, r"end_lr must be > 1e-07 \(the automatic sweep's start\), got end_lr=1e-08"),
        ({"start_lr": 1.0, "end_lr": 0.5}, ValueError, r"end_lr must be > start_lr"),
        ({"num_iter": 0}, ValueError, r"num_iter must be"),
        ({"step_mode": "cosine"}, ValueError, r"step_mode must be one of"),
        ({"accumulation_steps": 0}, ValueError, r"accumulation_steps must be"),
        ({"val_every": 0}, ValueError, r"val_every must be"),
        ({"val_batches": -1}, ValueError, r"val_batches must be"),
        ({"smooth_beta": 1.0}, ValueError, r"smooth_beta must be"),
        ({"diverge_th": 1.0}, ValueError, r"diverge_th must be > 1, got diverge_th=1.0"),
        ({"coarse_iter": 9}, ValueError, r"coarse_iter must be >= 10, got coarse_iter=9"),
        ({"num_iter": 2.5}, TypeError, r"num_iter must be"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        SweepPlan.build(**options)


def coarse_curve(n: int = 100, stop_reason: str = "finished") -> RangeTestResult:
    lrs = np.geomspace(COARSE_START_LR, 10.0, 100)[:n]
    losses = 2.0 + (np.log10(lrs) + 2.0) ** 2 / 10
    return RangeTestResult(lrs, losses, losses, stop_reason=stop_reason, stop_step=None if n == 100 else n)


def test_the_linear_sweep_ends_at_twice_the_coarse_minimum() -> None:
    coarse = coarse_curve()
    best = float(coarse.lrs[int(np.argmin(coarse.losses))])
    assert linear_end_from_coarse(coarse) == pytest.approx(2 * best)
    sweep = SweepPlan.build(num_iter=40).linear_sweep(coarse)
    assert sweep == RangeSweep(0.0, linear_end_from_coarse(coarse), 40, "linear")


def test_a_coarse_sweep_too_short_to_read_says_why() -> None:
    with pytest.raises(NoSuggestionError, match="ran out of batches after 3 steps: data is a one-shot"):
        linear_end_from_coarse(coarse_curve(3, "exhausted"), "data")
    with pytest.raises(NoSuggestionError, match="diverged after 3 steps"):
        linear_end_from_coarse(coarse_curve(3, "diverged"))


def test_exhausted_check() -> None:
    short = coarse_curve(3, "exhausted")
    check_not_exhausted(short, 3, 3)
    with pytest.raises(NoSuggestionError, match="x was exhausted after 7 batches, leaving the sweep 3 steps"):
        check_not_exhausted(short, 7, 4, "x")


def test_partial_result_is_kept_on_the_exception() -> None:
    recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 10))
    recorder.record_loss(1.0)
    coarse = coarse_curve()
    error = KeyboardInterrupt()
    partial = partial_result(recorder, error, coarse)
    assert error.range_test_result is partial  # type: ignore[attr-defined]
    assert partial.stop_reason == "interrupted" and partial.coarse is coarse and len(partial) == 1


def test_progress_bar_is_tqdm_when_enabled() -> None:
    bar = progress_bar(True, 10, "coarse")
    try:
        assert bar.desc == "range test (coarse, exp)"  # type: ignore[attr-defined]
    finally:
        bar.close()


class _Steps:
    """A loop whose loss falls, then rises fast from ``explode_lr``."""

    def __init__(self, explode_lr: float) -> None:
        self.explode_lr = explode_lr
        self.batches_drawn = 0
        self.restarts = 0

    def train(self, recorder: RangeTestRecorder, validate: bool) -> None:
        while not recorder.done:
            lr = recorder.lr()
            self.batches_drawn += 1
            if recorder.record_loss(1.0 / (1.0 + 100 * lr) + (lr / self.explode_lr) ** 4):
                return
            if validate and recorder.step % 5 == 0:
                recorder.record_metrics({"val_loss": 1.0})

    def restart(self) -> None:
        self.restarts += 1


def test_run_publishes_both_stages_and_links_them() -> None:
    published: list[RangeTestResult] = []
    loop = _Steps(explode_lr=0.5)
    result = SweepPlan.build(num_iter=40, settings={"runner": "test"}).run(loop, published.append, validate=True)
    assert loop.restarts == 1 and [r.settings["stage"] for r in published] == ["coarse", "main"]
    coarse = published[0]
    assert result is published[1] and result.coarse is coarse and coarse.stop_reason == "diverged"
    assert result.sweep == RangeSweep(0.0, linear_end_from_coarse(coarse), 40, "linear")
    assert coarse.metrics == {} and result.metric_steps.tolist()[:2] == [4, 9]
    assert result.settings["runner"] == "test"


def test_run_publishes_the_partial_curve_of_a_failing_stage() -> None:
    class Failing(_Steps):
        def train(self, recorder: RangeTestRecorder, validate: bool) -> None:
            if recorder.settings["stage"] == "main":
                recorder.record_loss(1.0)
                raise RuntimeError("stop here")
            super().train(recorder, validate)

    published: list[RangeTestResult] = []
    with pytest.raises(RuntimeError, match="stop here") as info:
        SweepPlan.build(num_iter=40).run(Failing(0.5), published.append, validate=False)
    partial = info.value.range_test_result  # type: ignore[attr-defined]
    assert published[-1] is partial and len(partial) == 1 and partial.stop_reason == "error"
    assert partial.coarse is published[0]


# --- the contract: every finder plans the same sweep from the same options -----------------


class _Planned(Exception):
    """Raised by the spy once the finder has built its plan: the test needs no training."""


def planned_by(monkeypatch: pytest.MonkeyPatch, run: Any) -> SweepPlan:
    plans: list[SweepPlan] = []
    build = SweepPlan.build.__func__  # type: ignore[attr-defined]

    def spy(cls: type[SweepPlan], *args: Any, **kwargs: Any) -> SweepPlan:
        plans.append(build(cls, *args, **kwargs))
        raise _Planned

    monkeypatch.setattr(SweepPlan, "build", classmethod(spy))
    with pytest.raises(_Planned):
        run()
    monkeypatch.undo()
    return plans[0]


class _Sized:
    """An iterable of batches with a length (a list would be arrays to Keras)."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Any:
        return iter(self.batches)


def common(plan: SweepPlan) -> dict[str, Any]:
    """The plan without the finder's own settings."""
    return {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan) if f.name != "settings"}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"end_lr": 3.0, "coarse_iter": 50},
        {"num_iter": 77, "val_every": 7},
        {"start_lr": 0.0, "end_lr": 0.5},
        {"start_lr": 1e-4, "end_lr": 1.0, "num_iter": 60},
        {"start_lr": 1e-4, "end_lr": 1.0, "step_mode": "linear", "smooth_beta": 0.9, "diverge_th": 3.0},
        {"step_mode": "exp", "num_iter": 120},
    ],
)
def test_the_torch_and_keras_finders_plan_the_same_sweep(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    import keras
    import torch
    from cyclr.keras import LRFinder as KerasFinder
    from cyclr.torch import LRFinder as TorchFinder

    x = np.random.default_rng(0).normal(size=(19 * 32 - 5, 4)).astype("float32")  # 19 batches of 32
    y = (x[:, 0] > 0).astype("int64")
    loader = [(torch.from_numpy(x[i : i + 32]), torch.from_numpy(y[i : i + 32])) for i in range(0, len(x), 32)]
    assert len(loader) == 19
    model = torch.nn.Linear(4, 2)
    torch_finder = TorchFinder(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.CrossEntropyLoss())
    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    keras_model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras_finder = KerasFinder(keras_model)

    val_batches = {"val_batches": 3}
    by_torch = planned_by(monkeypatch, lambda: torch_finder.range_test(loader, **options, **val_batches))
    by_keras = planned_by(monkeypatch, lambda: keras_finder.range_test(x, y, **options, **val_batches))
    batches = _Sized(loader)
    by_keras_batches = planned_by(monkeypatch, lambda: keras_finder.range_test(batches, **options, **val_batches))
    assert common(by_torch) == common(by_keras) == common(by_keras_batches)
    assert by_torch.num_iter == options.get("num_iter", 8 * 19)


# --- the finer second sweep ------------------------------------------------------------------


class _Peaked(_Steps):
    """A loop whose validation accuracy tops out at ``peak_lr`` and falls past it."""

    def __init__(self, explode_lr: float, peak_lr: float) -> None:
        super().__init__(explode_lr)
        self.peak_lr = peak_lr

    def train(self, recorder: RangeTestRecorder, validate: bool) -> None:
        while not recorder.done:
            lr = recorder.lr()
            self.batches_drawn += 1
            if recorder.record_loss(1.0 / (1.0 + 100 * lr) + (lr / self.explode_lr) ** 4):
                return
            if validate and recorder.step % 5 == 0:
                x = lr / self.peak_lr
                recorder.record_metrics({"val_accuracy": 0.1 + 0.8 * min(x, 1.0) - 0.6 * max(0.0, x - 1.0)})


def test_a_peak_in_the_first_measurements_is_swept_again_finer() -> None:
    published: list[RangeTestResult] = []
    loop = _Peaked(explode_lr=0.5, peak_lr=0.05)  # the linear sweep ends at 0.33: 5 points up to the peak
    result = SweepPlan.build(num_iter=150).run(loop, published.append, validate=True)
    first, second = published[1], published[2]
    assert [r.settings["stage"] for r in published] == ["coarse", "main", "main"] and result is second
    assert loop.restarts == 2 and result.coarse is published[0]
    assert result.settings["second_sweep"] == "zoom"
    assert result.settings["first_linear_end"] == first.sweep.end_lr  # type: ignore[union-attr]
    peak_lr, points = first_peak(first.metric_lrs, first.metrics["val_accuracy"])  # type: ignore[misc]
    assert points < MIN_METRIC_POINTS
    assert result.sweep == RangeSweep(0.0, ZOOM_FACTOR * peak_lr, 150, "linear")
    # the usable part (up to the peak) now holds several times more measurements
    assert first_peak(result.metric_lrs, result.metrics["val_accuracy"])[1] >= 2 * points  # type: ignore[index]
    # at most two linear sweeps: the test costs at most twice the one-sweep test
    assert loop.batches_drawn <= len(published[0]) + 2 * 150


def test_a_sweep_read_from_enough_points_is_not_repeated() -> None:
    published: list[RangeTestResult] = []
    loop = _Peaked(explode_lr=0.5, peak_lr=0.2)  # the linear sweep ends at 0.33: 18 points up to the peak
    SweepPlan.build(num_iter=150).run(loop, published.append, validate=True)
    assert len(published) == 2 and loop.restarts == 1
    assert second_sweep_end(published[1]) is None
    # without validation there is no metric to zoom on
    loop = _Peaked(explode_lr=0.5, peak_lr=0.05)
    published.clear()
    SweepPlan.build(num_iter=150).run(loop, published.append, validate=False)
    assert len(published) == 2


def test_second_sweep_end_on_a_real_range_test() -> None:
    # a GRU on digits: accuracy peaked at lr 0.0945, 11th of 32 measurements, in a sweep to 0.277
    c = CURVES["digits_rows_gru_seed0_first_sweep"]
    lrs, values = np.asarray(c["metric_lrs"]), np.asarray(c["metric_values"])
    recorder = RangeTestRecorder(RangeSweep(0.0, float(lrs[-1]), 256, "linear"))
    for step in range(256):
        recorder.record_loss(1.0)
        i = int(np.searchsorted(lrs, recorder.lr(step)))
        if i < lrs.size and np.isclose(lrs[i], recorder.lr(step)):
            recorder.record_metrics({c["metric"]: float(values[i])})
    end, reason = second_sweep_end(recorder.result())  # type: ignore[misc]
    assert reason == "zoom" and end == pytest.approx(0.189, rel=0.02)
    # the second sweep the same test recorded ended there
    again = CURVES["digits_rows_gru_seed0_second_sweep"]
    assert again["metric_lrs"][-1] == pytest.approx(end, rel=1e-6)
