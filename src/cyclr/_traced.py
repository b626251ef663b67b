"""The core schedules' formulas over an array namespace, for traced and jitted code.

``ops`` is ``keras.ops`` or ``jax.numpy``: anything with ``floor``, ``mod``,
``where``, ``cos``, ``sin``, ``exp``, ``power`` and ``clip``. The parameters come from a core
schedule object, already validated when it was built, so adapters stay thin.
The results equal :mod:`cyclr.schedules` to the precision of the step's dtype
(float32 by default); there is no Python control flow on the step, so every
function here is safe under ``jax.jit``, ``jax.vmap`` and Keras' compiled steps.
"""

from __future__ import annotations

import math
from typing import Any

from .schedules import CyclicSchedule, OneCycleSchedule, check_momentum_bounds


def momentum_bounds(
    schedule: CyclicSchedule | OneCycleSchedule, base_momentum: float | None, max_momentum: float | None
) -> tuple[float, float]:
    """Checked ``(base_momentum, max_momentum)``; None takes PyTorch's default for the schedule's kind."""
    cyclic = isinstance(schedule, CyclicSchedule)
    low = (0.8 if cyclic else 0.85) if base_momentum is None else base_momentum
    high = (0.9 if cyclic else 0.95) if max_momentum is None else max_momentum
    check_momentum_bounds(low, high)
    return float(low), float(high)


def cyclic_wave(schedule: CyclicSchedule, step: Any, ops: Any) -> tuple[Any, Any]:
    """``(position, scale)`` of :meth:`CyclicSchedule.wave` for a floating-point ``step``."""
    up = float(schedule.step_size_up)
    total = schedule.total_size
    # Work in steps within the cycle rather than the core's fraction
    # ``1 + step / total - cycle``: in float32 that loses the fraction once
    # step / total is large, and the falling side divides by a small
    # ``ratio - 1``. An exact remainder keeps the error at float32 rounding.
    into_cycle = ops.mod(step, total)
    # exact for whole step sizes; the rounding absorbs float error for fractional ones
    cycle = ops.floor((step - into_cycle) / total + 0.5) + 1.0
    position = ops.where(into_cycle <= up, into_cycle / up, (total - into_cycle) / (total - up))
    if schedule.shape == "welch":
        position = position * (2.0 - position)
    elif schedule.shape == "hann":
        position = 0.5 - 0.5 * ops.cos(math.pi * position)
    return position, _cyclic_scale(schedule, cycle, step, ops)


def _cyclic_scale(schedule: CyclicSchedule, cycle: Any, step: Any, ops: Any) -> Any:
    if schedule.scale_fn is not None:
        return schedule.scale_fn(cycle if schedule.scale_mode == "cycle" else step)
    if schedule.mode == "triangular":
        return 1.0
    if schedule.mode == "triangular2":
        return 1.0 / ops.power(2.0, cycle - 1.0)
    # gamma rounded to float32 and raised to a large step drifts (gamma=0.99999,
    # step=2e5: 0.5% off); exp of a log taken in float64 stays within float32.
    return ops.exp(step * math.log(schedule.gamma))


def cyclic_lr(schedule: CyclicSchedule, step: Any, ops: Any) -> Any:
    """The learning rate of ``schedule`` at ``step``."""
    position, scale = cyclic_wave(schedule, step, ops)
    return schedule.base_lr + (schedule.max_lr - schedule.base_lr) * position * scale


def cyclic_momentum(schedule: CyclicSchedule, step: Any, ops: Any, base_momentum: float, max_momentum: float) -> Any:
    """Momentum cycled opposite to the LR, as :meth:`CyclicSchedule.momentum`."""
    position, scale = cyclic_wave(schedule, step, ops)
    return max_momentum - (max_momentum - base_momentum) * position * scale


def one_cycle(schedule: OneCycleSchedule, step: Any, ops: Any, ends: list[tuple[float, float]]) -> Any:
    """The 1cycle curve through ``ends`` (start and end value of each phase), every phase computed, then selected.

    Past ``total_steps`` the value holds at its final one: a traced function
    cannot raise as the core does.
    """
    step = ops.clip(step, 0.0, float(schedule.total_steps))
    spans = schedule.phase_spans
    results = []
    for (start_step, end_step), (start, end) in zip(spans, ends):
        # The share of the phase still to go, not 1 - pct: it keeps float32's
        # relative precision near a phase's end, where 1cycle's LR is smallest.
        remaining = (end_step - step) / (end_step - start_step)
        if schedule.anneal_strategy == "cos":
            # (1 + cos(pi * pct)) / 2 written without the cancellation near pct = 1
            results.append(end + (start - end) * ops.sin(0.5 * math.pi * remaining) ** 2)
        else:
            results.append(end + (start - end) * remaining)
    out = results[-1]
    for (_, end_step), value in zip(reversed(spans[:-1]), reversed(results[:-1])):
        out = ops.where(step <= end_step, value, out)
    return out


def one_cycle_lr(schedule: OneCycleSchedule, step: Any, ops: Any) -> Any:
    """The learning rate of ``schedule`` at ``step``."""
    return one_cycle(schedule, step, ops, schedule.phase_values())


def one_cycle_momentum(
    schedule: OneCycleSchedule, step: Any, ops: Any, base_momentum: float, max_momentum: float
) -> Any:
    """Momentum cycled opposite to the LR, as :meth:`OneCycleSchedule.momentum`."""
    return one_cycle(schedule, step, ops, schedule.phase_values((base_momentum, max_momentum)))
