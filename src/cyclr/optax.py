"""JAX / optax adapter: cyclical and 1cycle schedules as jit-safe ``step -> value`` functions.

Each schedule is an :class:`OptaxSchedule`, a callable that optax accepts
wherever it takes a schedule (``optax.sgd(learning_rate=...)``,
``optax.inject_hyperparams``), and that works under ``jax.jit`` and
``jax.vmap``. Its ``momentum(...)`` gives the matching momentum / Adam ``b1``
schedule, cycled opposite to the LR::

    lr = cyclr.optax.cyclic_schedule(1e-3, 6e-3, step_size_up=500)
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=lr.momentum(0.85, 0.95))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, Union

import jax.numpy as jnp

from . import _traced
from .scale import ScaleFn
from .schedules import CyclicSchedule, OneCycleSchedule

__all__ = ["OptaxSchedule", "cyclic_schedule", "one_cycle_schedule"]

CoreSchedule = Union[CyclicSchedule, OneCycleSchedule]


def _as_float(step: Any) -> Any:
    # float32, or float64 when jax_enable_x64 is on
    return jnp.asarray(_traced.concrete_step(step), dtype=jnp.result_type(float))


@dataclasses.dataclass(frozen=True)
class OptaxSchedule:
    """An optax schedule computing a core :class:`~cyclr.CyclicSchedule` or :class:`~cyclr.OneCycleSchedule`.

    Custom ``scale_fn`` functions receive a JAX array here, so they must use
    operators or ``jax.numpy`` (not ``math``).
    """

    schedule: CoreSchedule

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, (CyclicSchedule, OneCycleSchedule)):
            raise TypeError(
                f"schedule must be a CyclicSchedule or OneCycleSchedule, got {type(self.schedule).__name__}"
            )
        _traced.check_traceable(self.schedule)

    def __call__(self, step: Any) -> Any:
        """The learning rate at ``step`` (a scalar or array, traced or not)."""
        step = _as_float(step)
        if isinstance(self.schedule, CyclicSchedule):
            return _traced.cyclic_lr(self.schedule, step, jnp)
        return _traced.one_cycle_lr(self.schedule, step, jnp)

    def momentum(self, base_momentum: float | None = None, max_momentum: float | None = None) -> Callable[[Any], Any]:
        """The momentum (or Adam ``b1``) schedule cycled opposite to this LR.

        Defaults follow PyTorch: 0.8-0.9 for a cyclic schedule, 0.85-0.95 for 1cycle.
        """
        low, high = _traced.momentum_bounds(self.schedule, base_momentum, max_momentum)
        schedule = self.schedule

        def momentum_at(step: Any) -> Any:
            step = _as_float(step)
            if isinstance(schedule, CyclicSchedule):
                return _traced.cyclic_momentum(schedule, step, jnp, low, high)
            return _traced.one_cycle_momentum(schedule, step, jnp, low, high)

        return momentum_at


def cyclic_schedule(
    base_lr: float,
    max_lr: float,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
    gamma: float = 1.0,
    scale_fn: ScaleFn | None = None,
    scale_mode: Literal["cycle", "iterations"] = "cycle",
    shape: Literal["triangular", "welch", "hann"] = "triangular",
) -> OptaxSchedule:
    """The cyclical learning rate as an optax schedule; arguments as :class:`cyclr.CyclicSchedule`."""
    return OptaxSchedule(
        CyclicSchedule(base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, shape)
    )


def one_cycle_schedule(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: Literal["cos", "linear"] = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> OptaxSchedule:
    """The 1cycle policy as an optax schedule; arguments as :class:`cyclr.OneCycleSchedule`.

    From its last step, ``total_steps - 1``, on it keeps the final LR (the core
    raises past ``total_steps``).
    """
    return OptaxSchedule(
        OneCycleSchedule(max_lr, total_steps, pct_start, anneal_strategy, div_factor, final_div_factor, three_phase)
    )
