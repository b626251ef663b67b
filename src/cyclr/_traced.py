"""The core schedules for traced and jitted code, in float32.

``ops`` is ``keras.ops`` or ``jax.numpy``: anything with ``maximum``, ``floor``,
``mod``, ``where``, ``cos``, ``sin``, ``exp`` and ``clip``. The parameters come
from a core schedule object, already validated when it was built, so adapters
stay thin. The formulas are the core's (:mod:`cyclr._formulas`); what is here is
only what float32 needs: the cycle and position taken from an exact remainder,
``gamma ** step`` through a float64 logarithm, 1cycle's phases written without
cancellation, and holding the value after 1cycle's last step. The results equal
:mod:`cyclr.schedules` to the precision of the step's dtype (float32 by
default); there is no Python control flow on the step, so every function here
is safe under ``jax.jit``, ``jax.vmap`` and Keras' compiled steps.
"""

from __future__ import annotations

import math
from typing import Any

from . import _formulas
from .schedules import (
    CoreSchedule,
    CyclicSchedule,
    OneCycleSchedule,
    _array_iteration,
    _scalar_iteration,
    check_momentum_bounds,
)

FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38  # the smallest normal float32


def _within_float32(pairs: list[tuple[str, float, float]]) -> None:
    """Each ``(what, low, high)``: both values and ``high - low`` stay finite in float32."""
    for what, low, high in pairs:
        if max(abs(float(low)), abs(float(high)), abs(float(high) - float(low))) > FLOAT32_MAX:
            raise ValueError(f"{what} must stay within float32's range (3.4e38), got {low!r} and {high!r}")


class Float32Ops:
    """``keras.ops`` or ``jax.numpy`` as the core formulas' namespace (:class:`cyclr._formulas.ArrayOps`)."""

    def __init__(self, ops: Any) -> None:
        self.cos = ops.cos
        self._exp = ops.exp

    def power(self, base: float, exponent: Any) -> Any:
        """``base ** exponent`` for a float32 ``exponent``.

        ``base`` rounded to float32 and raised to a large step drifts
        (gamma=0.99999, step=2e5: 0.5% off); the exp of a log taken in float64
        stays within float32.
        """
        return self._exp(exponent * math.log(base))


def check_traceable(schedule: CoreSchedule) -> None:
    """Reject what a traced schedule cannot compute: it has no Python error at the step that overflows.

    A cycle of negative length, or ``exp_range`` with ``gamma`` outside (0, 1],
    grows without bound; LRs past float32's range overflow at once.
    """
    if isinstance(schedule, OneCycleSchedule):
        initial, peak, low = schedule.initial_lr, float(schedule.max_lr), schedule.min_lr
        _within_float32([("the 1cycle LRs", initial, peak), ("the 1cycle LRs", low, peak)])
        return
    _within_float32([("base_lr and max_lr", schedule.base_lr, schedule.max_lr)])
    sizes = f"step_size_up={schedule.step_size_up!r}, step_size_down={schedule.step_size_down!r}"
    if schedule.total_size < 0:
        raise ValueError(f"step_size_up + step_size_down must be > 0 for a traced schedule, got {sizes}")
    for size in (abs(float(schedule.step_size_up)), schedule.total_size):
        if not FLOAT32_TINY <= size <= FLOAT32_MAX:
            raise ValueError(f"step sizes must be within float32's range (1.2e-38 to 3.4e38), got {sizes}")
    if schedule.scale_fn is None and schedule.mode == "exp_range" and not 0.0 < schedule.gamma <= 1.0:
        raise ValueError(
            f"gamma must be in (0, 1] for mode='exp_range' in a traced schedule, got gamma={schedule.gamma!r}"
        )


def concrete_step(step: Any) -> Any:
    """``step`` unchanged; a Python or numpy number or array is checked first (a tensor or tracer is not).

    Raises:
        TypeError: not a number or an array of numbers.
        ValueError: negative, not finite, or past float32's range.
    """
    np_array = type(step).__module__ == "numpy"
    if isinstance(step, (int, float)) or (np_array and getattr(step, "ndim", 1) == 0):
        value = _scalar_iteration(step)
    elif np_array or isinstance(step, (list, tuple)):
        value = _array_iteration(step).max(initial=0.0)
    else:
        return step
    if value > FLOAT32_MAX:
        raise ValueError(f"step must be at most 3.4e38 (float32), got step={value!r}")
    return step


def momentum_bounds(
    schedule: CoreSchedule, base_momentum: float | None, max_momentum: float | None
) -> tuple[float, float]:
    """Checked ``(base_momentum, max_momentum)``; None takes PyTorch's default for the schedule's kind."""
    default_low, default_high = schedule.default_momentum
    low = default_low if base_momentum is None else base_momentum
    high = default_high if max_momentum is None else max_momentum
    check_momentum_bounds(low, high)
    _within_float32([("base_momentum and max_momentum", low, high)])
    return float(low), float(high)


def cyclic_wave(schedule: CyclicSchedule, step: Any, ops: Any) -> tuple[Any, Any]:
    """``(position, scale)`` of :meth:`CyclicSchedule.wave` for a floating-point ``step``."""
    up = float(schedule.step_size_up)
    total = schedule.total_size
    step = ops.maximum(step, 0.0)  # a step before the first reads as the first
    # Work in steps within the cycle rather than the core's fraction
    # ``1 + step / total - cycle``: in float32 that loses the fraction once
    # step / total is large, and the falling side divides by a small
    # ``ratio - 1``. An exact remainder keeps the error at float32 rounding.
    into_cycle = ops.mod(step, total)
    # exact for whole step sizes; the rounding absorbs float error for fractional ones
    cycle = ops.floor((step - into_cycle) / total + 0.5) + 1.0
    position = ops.where(into_cycle <= up, into_cycle / up, (total - into_cycle) / (total - up))
    float32 = Float32Ops(ops)
    return _formulas.shaped(position, schedule.shape, float32), schedule._scale(cycle, step, float32)


def cyclic_lr(schedule: CyclicSchedule, step: Any, ops: Any) -> Any:
    """The learning rate of ``schedule`` at ``step``.

    The bounds enter as Python floats: an integer bound past int64 (from a
    config file) would otherwise fail to convert to a tensor.
    """
    position, scale = cyclic_wave(schedule, step, ops)
    return _formulas.lr_from_wave(float(schedule.base_lr), float(schedule.max_lr), position, scale)


def cyclic_momentum(schedule: CyclicSchedule, step: Any, ops: Any, base_momentum: float, max_momentum: float) -> Any:
    """Momentum cycled opposite to the LR, as :meth:`CyclicSchedule.momentum`."""
    return schedule.momentum_from_wave(*cyclic_wave(schedule, step, ops), float(base_momentum), float(max_momentum))


def one_cycle(schedule: OneCycleSchedule, step: Any, ops: Any, ends: list[tuple[float, float]]) -> Any:
    """The 1cycle curve through ``ends`` (start and end value of each phase), every phase computed, then selected.

    From the last step, ``total_steps - 1``, on the value holds at the one it
    has there (for the LR, ``min_lr`` exactly): a traced function cannot raise past the end
    as the core does, and the core's one extra step (``total_steps``, PyTorch's
    extrapolation of the last phase) would jump back up.
    """
    step = ops.clip(step, 0.0, float(schedule.total_steps - 1))
    spans = schedule.phase_spans
    results = []
    for (start_step, end_step), (start_value, end_value) in zip(spans, ends):
        start, end = float(start_value), float(end_value)  # an integer max_lr past int64 cannot be a tensor
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


def lr(schedule: CoreSchedule, step: Any, ops: Any) -> Any:
    """The learning rate of either core schedule at a floating-point ``step``."""
    if isinstance(schedule, CyclicSchedule):
        return cyclic_lr(schedule, step, ops)
    return one_cycle_lr(schedule, step, ops)


def momentum(schedule: CoreSchedule, step: Any, ops: Any, base_momentum: float, max_momentum: float) -> Any:
    """The momentum of either core schedule at a floating-point ``step``, opposite to its LR."""
    if isinstance(schedule, CyclicSchedule):
        return cyclic_momentum(schedule, step, ops, base_momentum, max_momentum)
    return one_cycle_momentum(schedule, step, ops, base_momentum, max_momentum)
