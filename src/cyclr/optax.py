"""JAX / optax adapter: cyclical and 1cycle schedules as jit-safe ``step -> value`` functions.

Each schedule is an :class:`OptaxSchedule`, a callable that optax accepts
wherever it takes a schedule (``optax.sgd(learning_rate=...)``,
``optax.inject_hyperparams``), and that works under ``jax.jit`` and
``jax.vmap``. Its ``momentum(...)`` gives the matching momentum / Adam ``b1``
schedule, cycled opposite to the LR::

    lr = cyclr.optax.cyclic_schedule(1e-3, 6e-3, step_size_up=500)
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=lr.momentum(0.85, 0.95))

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from . import _traced
from .scale import ScaleFn
from .schedules import (
    AnnealStrategy,
    CoreSchedule,
    CyclicMode,
    CyclicSchedule,
    OneCycleSchedule,
    ScaleMode,
    WaveShape,
)

__all__ = ["OptaxSchedule", "cyclic_schedule", "one_cycle_schedule"]


def _as_float(step: Any) -> Any:
    # float32, or float64 when jax_enable_x64 is on
    return jnp.asarray(_traced.concrete_step(step), dtype=jnp.result_type(float))


@dataclasses.dataclass(frozen=True)
class OptaxSchedule:
    """An optax schedule computing a core :class:`~cyclr.CyclicSchedule` or :class:`~cyclr.OneCycleSchedule`.

    Custom ``scale_fn`` functions receive a JAX array here, so they must use
    operators or ``jax.numpy`` (not ``math``).

    Args:
        schedule: the core schedule to compute.

    Raises:
        TypeError: ``schedule`` is not a :class:`~cyclr.CyclicSchedule` or :class:`~cyclr.OneCycleSchedule`.
        ValueError: the schedule is beyond what float32 steps can compute.

    Examples:
        >>> import cyclr
        >>> from cyclr.optax import OptaxSchedule
        >>> lr = OptaxSchedule(cyclr.CyclicSchedule(0.001, 0.006, step_size_up=4))
        >>> round(float(lr(4)), 6)
        0.006

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    schedule: CoreSchedule

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, (CyclicSchedule, OneCycleSchedule)):
            raise TypeError(
                f"schedule must be a CyclicSchedule or OneCycleSchedule, got {type(self.schedule).__name__}"
            )
        _traced.check_traceable(self.schedule)

    def __call__(self, step: Any) -> Any:
        """The learning rate at ``step``.

        Args:
            step: the update count (0 for the first), a scalar or array, traced or not.

        Returns:
            A JAX array of the step's shape, float32 (float64 with ``jax_enable_x64``).

        Raises:
            TypeError: a concrete ``step`` is not a number.
            ValueError: a concrete ``step`` is negative, not finite or past float32's range.

        Examples:
            >>> from cyclr.optax import one_cycle_schedule
            >>> round(float(one_cycle_schedule(0.1, total_steps=10)(2)), 6)
            0.1
        """
        return _traced.lr(self.schedule, _as_float(step), jnp)

    def momentum(self, base_momentum: float | None = None, max_momentum: float | None = None) -> Callable[[Any], Any]:
        """The momentum (or Adam ``b1``) schedule cycled opposite to this LR.

        Args:
            base_momentum: the momentum at the LR's peak; None takes PyTorch's
                default, 0.8 for a cyclic schedule and 0.85 for 1cycle.
            max_momentum: the momentum at the LR's minimum; None takes PyTorch's
                default, 0.9 for a cyclic schedule and 0.95 for 1cycle.

        Returns:
            A jit-safe ``step -> momentum`` function.

        Raises:
            TypeError: a bound is not a number.
            ValueError: a bound is not finite or beyond float32's range.

        Examples:
            >>> from cyclr.optax import cyclic_schedule
            >>> b1 = cyclic_schedule(0.001, 0.006, step_size_up=4).momentum()
            >>> round(float(b1(0)), 6), round(float(b1(4)), 6)
            (0.9, 0.8)
        """
        low, high = _traced.momentum_bounds(self.schedule, base_momentum, max_momentum)
        schedule = self.schedule

        def momentum_at(step: Any) -> Any:
            return _traced.momentum(schedule, _as_float(step), jnp, low, high)

        return momentum_at


def cyclic_schedule(
    base_lr: float,
    max_lr: float,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: CyclicMode = "triangular",
    gamma: float = 1.0,
    scale_fn: ScaleFn | None = None,
    scale_mode: ScaleMode = "cycle",
    shape: WaveShape = "triangular",
) -> OptaxSchedule:
    """The cyclical learning rate as an optax schedule.

    Args:
        base_lr: lower bound, the LR at step 0 and at every cycle end.
        max_lr: upper bound, reached ``step_size_up`` steps into a cycle (times its scale).
        step_size_up: steps of the rising half of a cycle.
        step_size_down: steps of the falling half; None means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: decay of ``exp_range``, in (0, 1].
        scale_fn: custom amplitude scale (operators or ``jax.numpy`` only); overrides ``mode``.
        scale_mode: ``scale_fn`` reads the cycle number (``"cycle"``) or the step (``"iterations"``).
        shape: ``"triangular"``, ``"welch"`` or ``"hann"`` wave.

    Returns:
        The :class:`OptaxSchedule` of a :class:`cyclr.CyclicSchedule` with these arguments.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, or beyond what float32 steps can compute.

    Examples:
        >>> import optax
        >>> from cyclr.optax import cyclic_schedule
        >>> lr = cyclic_schedule(0.001, 0.006, step_size_up=4, mode="triangular2")
        >>> tuple(round(float(lr(step)), 6) for step in (0, 4, 12))
        (0.001, 0.006, 0.0035)
        >>> optimizer = optax.sgd(learning_rate=lr, momentum=0.9)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    return OptaxSchedule(
        CyclicSchedule(base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, shape)
    )


def one_cycle_schedule(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: AnnealStrategy = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> OptaxSchedule:
    """The 1cycle policy as an optax schedule.

    From its last step, ``total_steps - 1``, on it keeps the final LR (the core
    raises past ``total_steps``).

    Args:
        max_lr: the peak LR, reached at the end of the warm-up.
        total_steps: optimizer updates in the whole run.
        pct_start: fraction of ``total_steps`` spent warming up.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: the initial LR is ``max_lr / div_factor``.
        final_div_factor: the last LR is ``initial_lr / final_div_factor``.
        three_phase: come back down to the initial LR before the final anneal.

    Returns:
        The :class:`OptaxSchedule` of a :class:`cyclr.OneCycleSchedule` with these arguments.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, or beyond float32's range.

    Examples:
        >>> from cyclr.optax import one_cycle_schedule
        >>> lr = one_cycle_schedule(0.1, total_steps=10, pct_start=0.3)
        >>> round(float(lr(0)), 6), round(float(lr(2)), 6)
        (0.004, 0.1)

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        https://arxiv.org/abs/1803.09820

        Smith & Topin, "Super-Convergence", https://arxiv.org/abs/1708.07120
    """
    return OptaxSchedule(
        OneCycleSchedule(max_lr, total_steps, pct_start, anneal_strategy, div_factor, final_div_factor, three_phase)
    )
