"""The framework-free schedules against the paper's formulas, plus their invariants."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cyclr
from cyclr import CyclicSchedule, OneCycleSchedule, RangeSweep, cycle_aligned_iterations, recommended_step_size


def paper_lr(it: int, base_lr: float, max_lr: float, step_size: int, mode: str, gamma: float = 1.0) -> float:
    """The paper's formula, written out independently of cyclr."""
    cycle = math.floor(1 + it / (2 * step_size))
    x = abs(it / step_size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 0.5 ** (cycle - 1), "exp_range": gamma**it}[mode]
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale


bounds = st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted)


# The paper's three policies, worked out by hand: base_lr=1, max_lr=5 (an amplitude of 4),
# step_size=4, so the LR climbs by 1 per iteration to the peak at 4 and falls back by 8.
LITERAL = [
    (
        dict(mode="triangular"),
        [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1],
    ),
    (  # the amplitude halves each cycle: 4, then 2, then 1
        dict(mode="triangular2"),
        [1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2, 2.5, 3, 2.5, 2, 1.5, 1, 1.25, 1.5, 1.75, 2, 1.75, 1.5, 1.25, 1],
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), LITERAL, ids=lambda v: v.get("mode") if isinstance(v, dict) else "")
def test_policies_give_the_lrs_worked_out_by_hand(kwargs, expected):
    sched = CyclicSchedule(1.0, 5.0, step_size_up=4, **kwargs)
    assert [sched(i) for i in range(len(expected))] == expected
    assert sched(np.arange(len(expected))).tolist() == expected


def test_exp_range_gives_the_lrs_worked_out_by_hand():
    # base_lr=1, max_lr=17, step_size=2, gamma=0.5: lr = 1 + 16 * position * 0.5**iteration,
    # with position 0, 1/2, 1, 1/2, 0, ... ; every value is exact in binary
    sched = CyclicSchedule(1.0, 17.0, step_size_up=2, mode="exp_range", gamma=0.5)
    expected = [1, 5, 5, 2, 1, 1.25, 1.25, 1.0625, 1]
    assert [sched(i) for i in range(9)] == expected
    assert sched(np.arange(9)).tolist() == expected


def test_momentum_gives_the_values_worked_out_by_hand():
    # opposite to the LR: max_momentum at the bounds, base_momentum at the peak
    sched = CyclicSchedule(1.0, 5.0, step_size_up=2)
    assert [sched.momentum(i, 0.5, 1.0) for i in range(5)] == [1.0, 0.75, 0.5, 0.75, 1.0]


def test_one_cycle_gives_the_lrs_worked_out_by_hand():
    # max_lr=1, div_factor=2, final_div_factor=4: from 1/2 up to 1 at step 1 (pct_start * 10 - 1),
    # then linearly down to 1/8 at step 9, by 7/64 a step
    sched = OneCycleSchedule(1.0, 10, pct_start=0.2, anneal_strategy="linear", div_factor=2.0, final_div_factor=4.0)
    expected = [0.5, 1.0, 0.890625, 0.78125, 0.671875, 0.5625, 0.453125, 0.34375, 0.234375, 0.125]
    assert [sched(i) for i in range(10)] == expected
    assert sched(np.arange(10)).tolist() == expected


def test_scale_at_reads_what_scale_mode_names():
    assert CyclicSchedule(1.0, 5.0, mode="triangular2").scale_at(3) == 0.25
    assert CyclicSchedule(1.0, 5.0, mode="exp_range", gamma=0.5).scale_at(3) == 0.125
    by_cycle = CyclicSchedule(1.0, 5.0, scale_fn=half)
    assert by_cycle.scale_at(2) == 0.5
    with pytest.warns(DeprecationWarning, match=r"scale_at\(cycle, iteration\) is deprecated"):
        assert CyclicSchedule(1.0, 5.0, mode="exp_range", gamma=0.5).scale_at(1, 3) == 0.125
    with pytest.warns(DeprecationWarning):
        assert by_cycle.scale_at(2, 99) == 0.5


step_sizes = st.integers(1, 500)
modes = st.sampled_from(["triangular", "triangular2", "exp_range"])
shapes = st.sampled_from(["triangular", "welch", "hann"])


@settings(max_examples=60, deadline=None)
@given(bounds, step_sizes, modes, st.floats(0.9, 1.0), st.integers(0, 5000))
def test_matches_paper_formula(lr_bounds, step, mode, gamma, it):
    base, high = lr_bounds
    sched = CyclicSchedule(base, high, step_size_up=step, mode=mode, gamma=gamma)
    assert sched(it) == pytest.approx(paper_lr(it, base, high, step, mode, gamma), rel=1e-9, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(bounds, step_sizes, st.integers(1, 500), modes, shapes)
def test_bounds_period_and_ends(lr_bounds, up, down, mode, shape):
    base, high = lr_bounds
    sched = CyclicSchedule(base, high, step_size_up=up, step_size_down=down, mode=mode, gamma=0.999, shape=shape)
    its = np.arange(0, 3 * (up + down) + 1)
    lrs = sched(its)
    assert np.all(lrs >= base - 1e-12) and np.all(lrs <= high + 1e-12)
    assert sched(0) == base
    for k in range(4):  # every cycle end is back at base_lr
        assert sched(k * (up + down)) == pytest.approx(base, abs=1e-12)
    first_peak_scale = sched.scale_at(1 if sched.scale_mode == "cycle" else up)
    assert sched(up) == pytest.approx(base + (high - base) * first_peak_scale, rel=1e-9, abs=1e-15)
    if mode == "triangular":  # periodic
        assert np.allclose(sched(its[: up + down]), sched(its[: up + down] + up + down), rtol=1e-9, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-4, 1.0), step_sizes, st.integers(1, 6), shapes)
def test_triangular2_halves_amplitude_each_cycle(high, step, cycle, shape):
    sched = CyclicSchedule(0.0, high, step_size_up=step, mode="triangular2", shape=shape)
    peak = (cycle - 1) * 2 * step + step
    assert sched(peak) == pytest.approx(high / 2 ** (cycle - 1), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.5, 1.0), step_sizes, st.integers(0, 3000))
def test_exp_range_amplitude_decays_with_iteration(gamma, step, it):
    sched = CyclicSchedule(0.0, 1.0, step_size_up=step, mode="exp_range", gamma=gamma)
    triangle = CyclicSchedule(0.0, 1.0, step_size_up=step)
    assert sched(it) == pytest.approx(triangle(it) * gamma**it, rel=1e-9, abs=1e-300)


@settings(max_examples=40, deadline=None)
@given(bounds, step_sizes, shapes, st.integers(0, 2000))
def test_shapes_share_bounds_period_and_symmetry(lr_bounds, step, shape, it):
    base, high = lr_bounds
    sched = CyclicSchedule(base, high, step_size_up=step, shape=shape)
    assert sched(step) == pytest.approx(high)
    assert sched(2 * step) == pytest.approx(base, abs=1e-15)
    offset = it % (2 * step)
    assert sched(offset) == pytest.approx(sched(2 * step - offset), rel=1e-9, abs=1e-15)


def test_shapes_differ_between_bounds_as_their_windows_do():
    t = 0.25  # a quarter of the way up
    tri, welch, hann = (CyclicSchedule(0.0, 1.0, step_size_up=100, shape=s)(25) for s in ("triangular", "welch", "hann"))
    assert tri == pytest.approx(t)
    assert welch == pytest.approx(1 - (1 - t) ** 2)
    assert hann == pytest.approx(math.sin(math.pi * t / 2) ** 2)
    assert hann < tri < welch


@settings(max_examples=40, deadline=None)
@given(bounds, step_sizes, st.integers(1, 300), modes, shapes)
def test_array_and_scalar_paths_agree(lr_bounds, up, down, mode, shape):
    base, high = lr_bounds
    sched = CyclicSchedule(base, high, step_size_up=up, step_size_down=down, mode=mode, gamma=0.99, shape=shape)
    its = np.arange(0, 2 * (up + down))
    np.testing.assert_allclose(sched(its), [sched(int(i)) for i in its], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(
        sched.momentum(its, 0.8, 0.9), [sched.momentum(int(i), 0.8, 0.9) for i in its], rtol=1e-12
    )


def test_momentum_is_opposite_to_lr():
    sched = CyclicSchedule(0.001, 0.006, step_size_up=10)
    assert sched.momentum(0, 0.8, 0.9) == 0.9
    assert sched.momentum(10, 0.8, 0.9) == pytest.approx(0.8)
    its = np.arange(40)
    lr_frac = (sched(its) - 0.001) / 0.005
    np.testing.assert_allclose(sched.momentum(its, 0.8, 0.9), 0.9 - 0.1 * lr_frac, atol=1e-12)


def test_custom_scale_fn_overrides_mode_in_both_scale_modes():
    sched = CyclicSchedule(0.0, 1.0, step_size_up=5, mode="triangular", scale_fn=lambda c: 1 / c, scale_mode="cycle")
    assert sched(5) == pytest.approx(1.0) and sched(15) == pytest.approx(0.5)
    by_it = CyclicSchedule(0.0, 1.0, step_size_up=5, scale_fn=lambda i: 0.5 if i > 10 else 1.0, scale_mode="iterations")
    assert by_it(5) == 1.0 and by_it(15) == 0.5
    np.testing.assert_allclose(by_it(np.array([5, 15])), [1.0, 0.5])  # scalar-only fn falls back point by point


def test_vectorised_evaluation_is_fast_enough_for_plots():
    import time

    sched = CyclicSchedule(0.001, 0.006, step_size_up=2000, mode="exp_range", gamma=0.99999, shape="hann")
    start = time.perf_counter()
    lrs = sched(np.arange(1_000_000))
    assert lrs.shape == (1_000_000,)
    assert time.perf_counter() - start < 5.0  # a loose sanity bound; the real numbers are in benchmarks/


@cyclr.register_scale_fn("test_half")
def half(cycle: float) -> float:
    return 0.5 ** (cycle - 1)


@cyclr.register_scale_fn("test_sqrt_decay")
def sqrt_decay(cycle: float) -> float:
    return 1 / math.sqrt(cycle)


def unregistered_half(cycle: float) -> float:
    return 0.5 ** (cycle - 1)


@dataclass(frozen=True)
class UnregisteredScale:
    power: float

    def __call__(self, cycle: float) -> float:
        return cycle**-self.power


@cyclr.register_scale_fn("test_power_scale")
@dataclass(frozen=True)
class PowerScale:
    power: float

    def __call__(self, cycle: float) -> float:
        return cycle**-self.power


@pytest.mark.parametrize(
    "sched",
    [
        CyclicSchedule(0.001, 0.006, 100, 50, mode="exp_range", gamma=0.999, shape="welch"),
        CyclicSchedule(0.001, 0.006, scale_fn=half),
        CyclicSchedule(0.001, 0.006, scale_fn=sqrt_decay, scale_mode="iterations"),
        CyclicSchedule(0.001, 0.006, scale_fn=PowerScale(0.5)),
        OneCycleSchedule(0.1, 1000, pct_start=0.25, anneal_strategy="linear", three_phase=True),
        RangeSweep(1e-5, 1.0, 100, step_mode="exp"),
    ],
)
def test_round_trips_through_json_and_pickle(sched):
    data = json.loads(json.dumps(sched.to_dict()))
    assert cyclr.schedule_from_dict(data) == sched
    assert type(sched).from_dict(data) == sched
    assert pickle.loads(pickle.dumps(sched)) == sched
    assert repr(sched).startswith(type(sched).__name__)


def test_anonymous_scale_fn_cannot_be_saved_and_says_why():
    sched = CyclicSchedule(0.001, 0.006, scale_fn=lambda c: 1.0)
    with pytest.raises(TypeError, match="lambda.*register_scale_fn"):
        sched.to_dict()


@pytest.mark.parametrize("fn", [unregistered_half, UnregisteredScale(0.5)], ids=["function", "dataclass"])
def test_unregistered_scale_fn_cannot_be_saved_and_says_how_to_register(fn):
    # saving by import path would make loading import and call whatever a file names
    with pytest.raises(TypeError, match=r"not registered.*@cyclr.register_scale_fn\('name'\)"):
        CyclicSchedule(0.001, 0.006, scale_fn=fn).to_dict()


def test_registered_dataclass_is_saved_as_its_name_and_fields():
    data = CyclicSchedule(0.001, 0.006, scale_fn=PowerScale(0.5)).to_dict()
    assert data["scale_fn"] == {"class": "test_power_scale", "fields": {"power": 0.5}}
    assert cyclr.schedule_from_dict(data).scale_fn == PowerScale(0.5)


def test_schedules_are_immutable_values():
    a, b = CyclicSchedule(0.1, 0.2), CyclicSchedule(0.1, 0.2)
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.base_lr = 0.3  # type: ignore[misc]
    assert CyclicSchedule(0.1, 0.2, mode="exp_range", scale_mode="cycle").scale_mode == "iterations"


BAD_CYCLIC = [
    (dict(base_lr=float("nan"), max_lr=0.1), ValueError, "base_lr must be finite"),
    (dict(base_lr=0.1, max_lr=float("inf")), ValueError, "max_lr must be finite"),
    (dict(base_lr=-1e308, max_lr=1e308), ValueError, "max_lr - base_lr overflows"),
    (dict(base_lr="0.1", max_lr=0.2), TypeError, "base_lr must be a real number, got '0.1'"),
    (dict(base_lr=None, max_lr=0.2), TypeError, "base_lr must be a real number"),
    (dict(base_lr=0.1, max_lr=0.2, step_size_up=0), ValueError, "step_size_up must be nonzero, got step_size_up=0"),
    (dict(base_lr=0.1, max_lr=0.2, step_size_up=5, step_size_down=-5), ValueError, "must be finite and nonzero"),
    (dict(base_lr=0.1, max_lr=0.2, step_size_up=1e308, step_size_down=1e308), ValueError, "must be finite and"),
    (dict(base_lr=0.1, max_lr=0.2, step_size_up=1e-300, step_size_down=1e300), ValueError, "step_size_up is too"),
    (dict(base_lr=0.1, max_lr=0.2, step_size_up=True), TypeError, "step_size_up must be a real number"),
    (dict(base_lr=0.1, max_lr=0.2, mode="cosine"), ValueError, "mode must be one of .*got mode='cosine'"),
    (dict(base_lr=0.1, max_lr=0.2, scale_mode="epoch"), ValueError, "scale_mode must be one of"),
    (dict(base_lr=0.1, max_lr=0.2, shape="square"), ValueError, "shape must be one of .*'square'"),
    (dict(base_lr=0.1, max_lr=0.2, gamma=float("nan")), ValueError, "gamma must be finite"),
    (dict(base_lr=0.1, max_lr=0.2, scale_fn=3), TypeError, "scale_fn must be callable or None, got 3"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_CYCLIC)
def test_cyclic_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        CyclicSchedule(**kwargs)


@pytest.mark.parametrize(
    "iteration, error", [(-1, ValueError), (float("nan"), ValueError), ("3", TypeError), (np.array([1, -2]), ValueError)]
)
def test_bad_iterations_are_rejected(iteration, error):
    with pytest.raises(error, match="iteration"):
        CyclicSchedule(0.1, 0.2)(iteration)


BAD_ONE_CYCLE = [
    (dict(max_lr=float("inf"), total_steps=100), "max_lr must be finite"),
    (dict(max_lr=1e308, total_steps=100, div_factor=1e-300), "max_lr / div_factor must be finite"),
    (dict(max_lr=1e300, total_steps=100, final_div_factor=1e-300), "final_div_factor must be finite"),
    (dict(max_lr=1e308, total_steps=100, div_factor=-1.0), "range between the 1cycle LRs overflows"),
    (dict(max_lr=0.1, total_steps=0), "total_steps must be >= 1"),
    (dict(max_lr=0.1, total_steps=100, pct_start=1.5), r"pct_start must be in \[0.0, 1.0\]"),
    (dict(max_lr=0.1, total_steps=100, anneal_strategy="exp"), "anneal_strategy must be one of"),
    (dict(max_lr=0.1, total_steps=100, div_factor=0), "div_factor must be nonzero"),
    (dict(max_lr=0.1, total_steps=100, final_div_factor=0.0), "final_div_factor must be nonzero"),
    (dict(max_lr=0.1, total_steps=10, pct_start=0.1), r"pct_start \* total_steps must not be 1"),
]


@pytest.mark.parametrize("kwargs, message", BAD_ONE_CYCLE)
def test_one_cycle_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OneCycleSchedule(**kwargs)


def test_one_cycle_shape():
    sched = OneCycleSchedule(0.1, 100, pct_start=0.3)
    assert sched(0) == pytest.approx(0.1 / 25)
    assert sched(29) == pytest.approx(0.1)
    assert sched(99) == pytest.approx(0.1 / 25 / 1e4)
    its = np.arange(101)
    assert np.argmax(sched(its)) == 29
    np.testing.assert_allclose(sched(its), [sched(int(i)) for i in its], rtol=1e-12)
    with pytest.raises(ValueError, match="total_steps=100"):
        sched(101)


def test_range_sweep_ends():
    lin = RangeSweep(0.0, 0.02, 9)
    assert lin(0) == 0.0 and lin(8) == 0.02 and lin(4) == pytest.approx(0.01)
    exp = RangeSweep(1e-4, 1.0, 5, step_mode="exp")
    np.testing.assert_allclose(exp(np.arange(5)), [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-12)
    assert RangeSweep(0.1, 0.2, 1)(0) == 0.2
    with pytest.raises(ValueError, match="start_lr must be > 0 for step_mode='exp'"):
        RangeSweep(0.0, 1.0, 10, step_mode="exp")
    with pytest.raises(ValueError, match="end_lr must be > start_lr"):
        RangeSweep(0.1, 0.1, 10)
    with pytest.raises(ValueError, match="num_iter must be >= 1"):
        RangeSweep(0.1, 0.2, 0)
    with pytest.raises(ValueError, match="step_mode must be one of"):
        RangeSweep(0.1, 0.2, 10, step_mode="log")


def test_paper_rules_of_thumb():
    assert cyclr.recommended_step_size(100) == 400
    assert cyclr.recommended_step_size(100, epochs_per_step=2) == 200
    assert cyclr.cycle_aligned_iterations(2500, 400) == 2400
    assert cyclr.cycle_aligned_iterations(2500, 400, 200) == 2400
    assert cyclr.base_lr_from_max_lr(0.006) == pytest.approx(0.0015)
    assert cyclr.base_lr_from_max_lr(0.006, divisor=3) == pytest.approx(0.002)
    with pytest.raises(ValueError, match="budget must cover at least one cycle"):
        cyclr.cycle_aligned_iterations(100, 400)
    with pytest.raises(ValueError, match="divisor must be > 1"):
        cyclr.base_lr_from_max_lr(0.006, divisor=0.5)
    with pytest.raises(TypeError, match="iterations_per_epoch must be an integer"):
        cyclr.recommended_step_size(10.5)


def test_cycle_aligned_iterations_ends_where_the_lr_is_back_at_base_lr():
    # 2.4-iteration cycles end on whole iterations only every 5 cycles (12 iterations)
    assert cyclr.cycle_aligned_iterations(30, 1.2) == 24
    assert cyclr.cycle_aligned_iterations(10, 1.25) == 10
    sched = CyclicSchedule(0.1, 1.0, step_size_up=1.2)
    assert sched(cyclr.cycle_aligned_iterations(30, 1.2)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no whole number of cycles of 2.4 iterations"):
        cyclr.cycle_aligned_iterations(10, 1.2)


def test_import_cyclr_loads_no_framework_and_is_fast():
    code = (
        "import sys, time; t = time.perf_counter(); import cyclr; dt = time.perf_counter() - t; "
        "heavy = [m for m in ('numpy', 'torch', 'keras', 'jax', 'matplotlib', 'tensorflow') if m in sys.modules]; "
        "print(heavy, dt)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "[]", out


# --- what PyTorch accepts, and the numeric edges ----------------------------


@pytest.mark.parametrize(
    "kwargs, warning",
    [
        (dict(base_lr=0.1, max_lr=0.01), "max_lr=0.01 is below base_lr=0.1"),
        (dict(base_lr=-0.1, max_lr=0.1), "base_lr=-0.1 is a negative learning rate"),
        (dict(base_lr=0.1, max_lr=0.2, mode="exp_range", gamma=1.05), r"gamma=1.05 is outside \(0, 1\]"),
        (dict(base_lr=0.1, max_lr=0.2, mode="exp_range", gamma=-0.5), "gamma=-0.5"),
        (dict(base_lr=0.1, max_lr=0.2, step_size_up=-4), "negative step size"),
    ],
)
def test_values_pytorch_accepts_but_that_look_wrong_warn(kwargs, warning):
    with pytest.warns(UserWarning, match=warning):
        sched = CyclicSchedule(**kwargs)
    assert math.isfinite(sched(3))


def test_momentum_bounds_accept_what_pytorch_accepts_with_a_warning():
    sched = CyclicSchedule(1.0, 5.0, step_size_up=4)
    with pytest.warns(UserWarning, match="max_momentum=5 is outside"):
        assert sched.momentum(2, 1, 5) == 3.0
    with pytest.warns(UserWarning, match="base_momentum=0.95 is above max_momentum=0.85"):
        assert sched.momentum(4, 0.95, 0.85) == 0.95
    with pytest.raises(ValueError, match="max_momentum - base_momentum overflows"):
        sched.momentum(4, -1e308, 1e308)


def test_one_cycle_accepts_pytorchs_edge_arguments():
    assert OneCycleSchedule(0.1, 10, pct_start=0.0)(0) == pytest.approx(0.1 - 0.1 * (1 - math.cos(math.pi / 10)) / 2, rel=0.1)
    assert OneCycleSchedule(0.1, 10, three_phase=1).three_phase is True
    assert OneCycleSchedule(0.1, 1)(0) == 0.1 / 25 / 1e4
    with pytest.raises(TypeError, match="three_phase must be a bool, got 'yes'"):
        OneCycleSchedule(0.1, 10, three_phase="yes")
    rising = OneCycleSchedule(0.1, 10, pct_start=1.0)
    assert rising(9) == 0.1
    with pytest.raises(ValueError, match="iteration=10 falls in a phase of zero steps"):
        rising(10)
    with pytest.raises(ValueError, match="falls in a phase of zero steps"):
        rising(np.arange(11))


HUGE = 10**400


@pytest.mark.parametrize(
    "sched", [CyclicSchedule(0.1, 0.2), CyclicSchedule(0.1, 0.2, mode="triangular2"), OneCycleSchedule(0.1, 10), RangeSweep(0.1, 0.2, 10)]
)
def test_a_huge_integer_iteration_is_a_value_error(sched):
    with pytest.raises(ValueError, match="iteration"):
        sched(HUGE)


def test_cycle_of_a_huge_iteration_is_a_value_error():
    with pytest.raises(ValueError, match="iteration"):
        CyclicSchedule(0.1, 0.2).cycle(HUGE)
    assert CyclicSchedule(0.1, 0.2, mode="triangular2")(10**300) == 0.1


def test_exp_range_overflow_and_negative_gamma_raise_value_errors():
    with pytest.warns(UserWarning):
        growing = CyclicSchedule(0.1, 0.2, step_size_up=3, mode="exp_range", gamma=1.05)
    assert math.isfinite(growing(100))
    with pytest.raises(ValueError, match="iteration=100000"):
        growing(100_000)
    with pytest.raises(ValueError, match="iteration=1"):
        growing(np.array([1, 100_000]))
    with pytest.warns(UserWarning):
        alternating = CyclicSchedule(0.1, 0.2, step_size_up=3, mode="exp_range", gamma=-0.5)
    assert alternating(1) == pytest.approx(0.1 + 0.1 / 3 * -0.5)
    with pytest.raises(ValueError, match="whole number"):
        alternating(1.5)
    with pytest.raises(ValueError, match="whole numbers"):
        alternating(np.array([1.5]))


def test_range_sweep_spans_the_whole_float_range():
    assert RangeSweep(1e-300, 1e300, 1, step_mode="exp")(0) == pytest.approx(1e300)
    middle = RangeSweep(1e-300, 1e300, 3, step_mode="exp")
    assert middle(1) == pytest.approx(1.0)
    assert np.isfinite(middle(np.arange(3))).all()
    assert RangeSweep(0.1, 0.2, HUGE)(5) == 0.1
    assert RangeSweep(0.1, 0.2, HUGE)(np.array([5.0]))[0] == 0.1


def test_rules_of_thumb_reject_overflows_and_cannot_hang():
    with pytest.raises(ValueError, match="iterations_per_epoch \\* epochs_per_step"):
        recommended_step_size(HUGE)
    with pytest.raises(ValueError, match="epochs_per_step"):
        recommended_step_size(10, 1e308)
    with pytest.raises(ValueError, match="budget"):
        cycle_aligned_iterations(HUGE, 3)
    with pytest.raises(ValueError, match="must be finite"):
        cycle_aligned_iterations(10, 1e308, 1e308)
    with pytest.raises(ValueError, match="no whole number of cycles"):
        cycle_aligned_iterations(1000, 3e-7 * math.e)  # 6e8 cycle counts to try: a search without a bound hangs


def test_one_cycle_total_steps_past_the_float_range_is_a_value_error():
    with pytest.raises(ValueError, match="total_steps must be a float-sized count.*401-digit"):
        OneCycleSchedule(0.1, 10**400)
    assert OneCycleSchedule(0.1, 10**300).phase_values() == [(0.004, 0.1), (0.1, 4e-07)]


def test_integer_gamma_powers_past_the_float_range_are_a_value_error():
    # An int gamma keeps Python's exact integer power (as PyTorch's scale_fn does) while it fits a float.
    with pytest.warns(UserWarning, match="gamma=847180 is outside"):
        sched = CyclicSchedule(0.0, 1.0, step_size_up=1, mode="exp_range", gamma=847180)
    assert sched(1) == 847180.0
    for iteration in (52, 53, np.int64(52)):
        with pytest.raises(ValueError, match=r"iteration=.*52|iteration=53"):
            sched(iteration)
        with pytest.raises(ValueError, match="numeric range"):
            sched.momentum(iteration)


def test_custom_scale_fn_returning_an_integer_past_the_float_range_is_a_value_error():
    sched = CyclicSchedule(0.0, 1.0, step_size_up=1, scale_fn=lambda x: 10**400)
    with pytest.raises(ValueError, match="numeric range"):
        sched(1)
    with pytest.raises(ValueError, match="numeric range"):
        sched.momentum(1)
