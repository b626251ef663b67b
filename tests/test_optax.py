"""cyclr.optax: jit-safe schedules that equal the core to float32 precision."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_float32_close, cyclic_configs, lr_bounds
from hypothesis import given, settings
from hypothesis import strategies as st

import jax
import optax
jnp = jax.numpy

from cyclr import CyclicSchedule, OneCycleSchedule  # noqa: E402
from cyclr.optax import OptaxSchedule, cyclic_schedule, one_cycle_schedule  # noqa: E402


def sawtooth(x):
    """A custom scale that works on numbers and on traced arrays alike."""
    return 1.0 / (1.0 + 0.1 * x)


step_sizes = st.one_of(st.integers(1, 3000), st.integers(2, 400).map(lambda n: n / 2))
# every step of the first few cycles, then far out where float32 loses the fraction
STEPS = np.concatenate([np.arange(0, 2000), np.arange(2000, 1_000_000, 997)])


@settings(max_examples=30, deadline=None)
@given(lr_bounds(), cyclic_configs(step_sizes))
def test_cyclic_equals_core_under_jit(lr_bounds, config):
    base_lr, max_lr = lr_bounds
    sched = cyclic_schedule(base_lr, max_lr, **config)
    expected = CyclicSchedule(base_lr, max_lr, **config)(STEPS)
    assert_float32_close(jax.jit(sched)(STEPS), expected, max_lr)


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_custom_scale_fn_equals_core(scale_mode):
    sched = cyclic_schedule(0.01, 0.1, 7, 3, scale_fn=sawtooth, scale_mode=scale_mode)
    steps = np.arange(0, 3000)
    assert_float32_close(jax.jit(sched)(steps), sched.schedule(steps), 0.1)


one_cycle_configs = st.fixed_dictionaries(
    {
        "total_steps": st.integers(50, 5000),
        "pct_start": st.floats(0.1, 0.45),
        "anneal_strategy": st.sampled_from(["cos", "linear"]),
        "div_factor": st.floats(1.5, 100.0),
        "final_div_factor": st.floats(1.0, 1e4),
        "three_phase": st.booleans(),
    }
)


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-4, 10.0), one_cycle_configs)
def test_one_cycle_equals_core_under_jit(max_lr, config):
    sched = one_cycle_schedule(max_lr, **config)
    total = config["total_steps"]
    steps = np.arange(0, total)
    assert_float32_close(jax.jit(sched)(steps), sched.schedule(steps), max_lr)
    momentum = sched.momentum(0.85, 0.95)
    assert_float32_close(jax.jit(momentum)(steps), sched.schedule.momentum(steps, 0.85, 0.95), 1.0)
    past = np.array([total - 1, total, total + 1, 10 * total])
    np.testing.assert_array_equal(jax.jit(sched)(past), np.float32(sched.schedule(total - 1)))
    np.testing.assert_array_equal(jax.jit(momentum)(past), np.float32(0.95))


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_one_cycle_holds_its_final_value_after_total_steps(three_phase, anneal_strategy):
    sched = one_cycle_schedule(0.1, 10, anneal_strategy=anneal_strategy, three_phase=three_phase)
    final = sched.schedule(9)
    assert np.float32(final) == np.float32(sched.schedule.min_lr)
    # the core extrapolates one step further, far off (12,000 times higher, or negative for "linear");
    # the traced schedule holds the final LR
    assert abs(sched.schedule(10)) > 100 * final
    for step in (9, 10, 11, 150, 10**9):
        assert float(sched(step)) == np.float32(final)


def test_vmap_and_scalar_steps_agree_with_core():
    sched = cyclic_schedule(1e-3, 6e-3, step_size_up=5, mode="triangular2", shape="welch")
    steps = jnp.arange(40)
    by_vmap = jax.vmap(sched)(steps)
    assert_float32_close(by_vmap, sched.schedule(np.arange(40)), 6e-3)
    jitted = jax.jit(sched)
    for step in (0, 5, 17, 39):
        assert float(jitted(jnp.int32(step))) == pytest.approx(float(by_vmap[step]), rel=1e-6)
    assert float(sched(17)) == pytest.approx(sched.schedule(17), rel=1e-6)


def test_cyclic_momentum_is_opposite_to_the_lr():
    sched = cyclic_schedule(0.01, 0.1, step_size_up=4, step_size_down=6)
    steps = np.arange(50)
    momentum = jax.jit(sched.momentum())(steps)
    assert_float32_close(momentum, sched.schedule.momentum(steps, 0.8, 0.9), 1.0)
    assert float(momentum[0]) == pytest.approx(0.9) and float(momentum[4]) == pytest.approx(0.8)


def test_inject_hyperparams_cycles_adam_lr_and_b1():
    lr = cyclic_schedule(1e-3, 6e-3, step_size_up=3)
    b1 = lr.momentum(0.85, 0.95)
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=b1)
    params = {"w": jnp.ones(3)}
    state = opt.init(params)

    @jax.jit
    def train_step(params, state):
        grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    seen_lr, seen_b1 = [], []
    for _ in range(8):
        params, state = train_step(params, state)
        seen_lr.append(float(state.hyperparams["learning_rate"]))
        seen_b1.append(float(state.hyperparams["b1"]))
    # optax evaluates the schedules at the count of the update being made: 0, 1, 2, ...
    np.testing.assert_allclose(seen_lr, lr.schedule(np.arange(8)), rtol=1e-6)
    np.testing.assert_allclose(seen_b1, lr.schedule.momentum(np.arange(8), 0.85, 0.95), rtol=1e-6)


def test_bad_arguments_raise_at_construction():
    with pytest.warns(UserWarning, match="max_lr=0.01 is below base_lr=0.1"):
        cyclic_schedule(0.1, 0.01)
    with pytest.raises(ValueError, match="base_lr and max_lr must stay within float32's range"):
        cyclic_schedule(0.1, 1e39)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\] for mode='exp_range'"):
        cyclic_schedule(0.1, 0.2, mode="exp_range", gamma=1.05)
    with pytest.raises(ValueError, match="mode must be one of"):
        cyclic_schedule(0.01, 0.1, mode="cosine")
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        one_cycle_schedule(0.1, 0)
    with pytest.raises(TypeError, match="schedule must be a CyclicSchedule or OneCycleSchedule"):
        OptaxSchedule("triangular")  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="base_momentum=0.95 is above max_momentum=0.85"):
        cyclic_schedule(0.01, 0.1).momentum(0.95, 0.85)
    with pytest.raises(ValueError, match="iteration must be a finite number >= 0"):
        cyclic_schedule(0.01, 0.1)(-1)


def test_wraps_a_core_schedule_directly():
    core = OneCycleSchedule(0.5, 200, three_phase=True)
    assert float(OptaxSchedule(core)(60)) == pytest.approx(core(60), rel=1e-6)
