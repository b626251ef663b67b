"""Every public constructor and evaluation fed arbitrary values: only ValueError / TypeError escape.

Numbers include nan, inf, the float extremes, subnormals, negatives, zero and
integers past the float range; besides them come bools, strings, None, lists
and numpy scalars. What gets built must evaluate, at any iteration (huge
integers and numpy arrays included), to finite values or raise ValueError /
TypeError. Warnings are allowed: they mark values PyTorch accepts that look wrong.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cyclr
import cyclr.keras as ck
import cyclr.optax as co
import cyclr.torch as ct

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EDGES = [0, 0.0, -0.0, 1, -1, 0.5, 2, 1e308, -1e308, 5e-324, 1e-300, 1e38, 4e38, 10**400, -(10**400)]
ODDITIES = [True, False, None, "0.1", "", b"1", [0.1], (1, 2), {}, 1j, np.float64(0.3), np.int64(7), np.float32(2.5), 2, -1]
CHOICES = ["bogus", "cos", "exp", "log", "epoch", "square", "TRIANGULAR"]
numbers = st.one_of(
    st.floats(),  # nan, inf, extremes and subnormals included
    st.integers(-(10**6), 10**6),
    st.sampled_from(EDGES),
)
anything = st.one_of(numbers, st.sampled_from(ODDITIES + CHOICES))
small_counts = st.one_of(st.integers(-3, 60), anything)
iterations = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, 10**30),
    st.sampled_from([10**400, -1, -0.5, math.nan, math.inf, 1e300, 0.5, "3", None, True, np.int64(5), np.float32(3.5)]),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=4).map(np.array),
    st.lists(st.floats(0, 1e12), min_size=0, max_size=4).map(np.array),
    st.sampled_from([np.array([1.0, np.nan]), np.array([-1, 2]), np.array([[1, 2], [3, 4]]), np.array(["a"])]),
)
modes = st.sampled_from(["triangular", "triangular2", "exp_range"])
shapes = st.sampled_from(["triangular", "welch", "hann"])
scale_modes = st.sampled_from(["cycle", "iterations"])
anneals = st.sampled_from(["cos", "linear"])
step_modes = st.sampled_from(["linear", "exp"])
flags = st.sampled_from([True, False, 0, 1, np.bool_(True), np.int64(1)])


def corrupted(sane: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A sane argument set with up to three arguments replaced by anything at all."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        kwargs = {key: draw(value) for key, value in sane.items()}
        for key in draw(st.lists(st.sampled_from(sorted(sane)), max_size=3, unique=True)):
            kwargs[key] = draw(anything)
        return kwargs

    return build()


def attempt(make: Callable[[], Any]) -> Any:
    """``make()``; None if it raised ValueError or TypeError. Anything else escaping fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return make()
        except (ValueError, TypeError):
            return None


def assert_finite(value: Any) -> None:
    if value is None:
        return
    array = np.asarray(keras.ops.convert_to_numpy(value) if not isinstance(value, (float, int)) else value, dtype=np.float64)
    assert np.isfinite(array).all(), value


def evaluate(fn: Callable[[Any], Any], its: list[Any]) -> None:
    for it in its:
        assert_finite(attempt(lambda: fn(it)))


lrs = st.one_of(st.floats(0, 1), st.floats(-1, 10))
cyclic_kwargs = corrupted(
    {
        "base_lr": lrs,
        "max_lr": lrs,
        "step_size_up": st.one_of(st.integers(-5, 50), st.floats(-5, 50)),
        "step_size_down": st.one_of(st.none(), st.integers(-5, 50), st.floats(0, 50)),
        "mode": modes,
        "gamma": st.floats(-2, 2),
        "scale_mode": scale_modes,
        "shape": shapes,
    }
)
one_cycle_kwargs = corrupted(
    {
        "max_lr": lrs,
        "total_steps": st.integers(1, 60),
        "pct_start": st.floats(0, 1),
        "anneal_strategy": anneals,
        "div_factor": st.floats(-10, 100),
        "final_div_factor": st.floats(-10, 1e4),
        "three_phase": flags,
    }
)
sweep_kwargs = corrupted(
    {"start_lr": st.floats(0, 1), "end_lr": st.floats(0, 1e300), "num_iter": st.integers(1, 60), "step_mode": step_modes}
)
momenta = corrupted({"base_momentum": st.floats(-1, 2), "max_momentum": st.floats(-1, 2)}).map(
    lambda m: (m["base_momentum"], m["max_momentum"])
)


@FUZZ
@given(cyclic_kwargs, st.lists(iterations, min_size=1, max_size=4), momenta)
def test_cyclic_schedule(kwargs, its, momentum):
    sched = attempt(lambda: cyclr.CyclicSchedule(**kwargs))
    if sched is not None:
        evaluate(sched, its)
        evaluate(lambda it: sched.momentum(it, *momentum), its)
        evaluate(sched.cycle, its)


@FUZZ
@given(one_cycle_kwargs, st.lists(st.one_of(iterations, st.integers(0, 70)), min_size=1, max_size=4), momenta)
def test_one_cycle_schedule(kwargs, its, momentum):
    sched = attempt(lambda: cyclr.OneCycleSchedule(**kwargs))
    if sched is not None:
        evaluate(sched, its)
        evaluate(lambda it: sched.momentum(it, *momentum), its)


@FUZZ
@given(sweep_kwargs, st.lists(st.one_of(iterations, st.integers(0, 70)), max_size=4))
def test_range_sweep(kwargs, its):
    sweep = attempt(lambda: cyclr.RangeSweep(**kwargs))
    if sweep is not None:
        evaluate(sweep, its)


@FUZZ
@given(
    corrupted({"iterations_per_epoch": st.integers(1, 10**6), "epochs_per_step": st.floats(0.1, 20)}),
    corrupted({"budget": st.integers(1, 10**7), "step_size_up": st.floats(0.1, 1e4), "step_size_down": st.one_of(st.none(), st.floats(0.1, 1e4))}),
    corrupted({"max_lr": st.floats(0, 10), "divisor": st.floats(0, 10)}),
)
def test_rules_of_thumb(step_size, aligned, base):
    for value in (
        attempt(lambda: cyclr.recommended_step_size(**step_size)),
        attempt(lambda: cyclr.cycle_aligned_iterations(**aligned)),
        attempt(lambda: cyclr.base_lr_from_max_lr(**base)),
    ):
        assert_finite(value)


def sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)


def step_through(sched: Any, steps: int) -> None:
    """Step on until a ValueError / TypeError; every LR set on the way is finite."""
    for _ in range(steps):
        assert all(math.isfinite(float(lr)) for lr in sched.get_last_lr())
        if attempt(lambda: sched.step() or True) is None:
            return


@FUZZ
@given(cyclic_kwargs, momenta, flags)
def test_torch_cyclic_lr(kwargs, momentum, cycle_momentum):
    sched = attempt(
        lambda: ct.CyclicLR(sgd(), base_momentum=momentum[0], max_momentum=momentum[1], cycle_momentum=cycle_momentum, **kwargs)
    )
    if sched is not None:
        step_through(sched, 5)


@FUZZ
@given(one_cycle_kwargs, momenta, small_counts, small_counts)
def test_torch_one_cycle_lr(kwargs, momentum, epochs, steps_per_epoch):
    extra = {} if kwargs["total_steps"] is not None else {"epochs": epochs, "steps_per_epoch": steps_per_epoch}
    sched = attempt(lambda: ct.OneCycleLR(sgd(), base_momentum=momentum[0], max_momentum=momentum[1], **kwargs, **extra))
    if sched is not None:
        step_through(sched, 5)


keras_steps = st.lists(
    st.one_of(
        st.integers(0, 10**6),
        st.sampled_from([10**30, 10**400, -1, math.nan, 1e300, 2.5, np.int64(3), np.array([0, 5, 10**9])]),
    ),
    min_size=1,
    max_size=3,
)


@SLOW_FUZZ
@given(cyclic_kwargs, one_cycle_kwargs, st.one_of(st.floats(0, 1), anything), keras_steps)
def test_keras_schedules(cyclic, one_cycle, gamma, steps):
    tfa = {"initial_learning_rate": cyclic["base_lr"], "maximal_learning_rate": cyclic["max_lr"], "step_size": cyclic["step_size_up"]}
    for make in (
        lambda: ck.CyclicLR(**cyclic),
        lambda: ck.OneCycleLR(**one_cycle),
        lambda: ck.TriangularCyclicalLearningRate(**tfa, scale_mode=cyclic["scale_mode"]),
        lambda: ck.Triangular2CyclicalLearningRate(**tfa, scale_mode=cyclic["scale_mode"]),
        lambda: ck.ExponentialCyclicalLearningRate(**tfa, scale_mode=cyclic["scale_mode"], gamma=gamma),
    ):
        sched = attempt(make)
        if sched is not None:
            evaluate(sched, steps)


@SLOW_FUZZ
@given(cyclic_kwargs, one_cycle_kwargs, momenta, keras_steps)
def test_optax_schedules(cyclic, one_cycle, momentum, steps):
    for make in (lambda: co.cyclic_schedule(**cyclic), lambda: co.one_cycle_schedule(**one_cycle)):
        sched = attempt(make)
        if sched is not None:
            evaluate(sched, steps)
            momentum_fn = attempt(lambda: sched.momentum(*momentum))
            if momentum_fn is not None:
                evaluate(momentum_fn, steps)


@pytest.mark.parametrize(
    "make",
    [
        lambda: cyclr.CyclicSchedule(0.1, 1, 1e308, 1e308)(0),
        lambda: cyclr.CyclicSchedule(0.1, 0.2)(10**400),
        lambda: cyclr.OneCycleSchedule(1e308, 10, div_factor=1e-10),
        lambda: cyclr.OneCycleSchedule(1e300, 10, final_div_factor=1e-300),
        lambda: ct.CyclicLR(sgd(), 0.1, 0.2, step_size_up=10**400),
        lambda: co.one_cycle_schedule(1e300, 10),
        lambda: ck.CyclicLR(1e-3, 1e-2, step_size_up=1e-300),
    ],
)
def test_former_crashes_are_value_errors(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):
            make()
