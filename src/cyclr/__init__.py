"""cyclr: cyclical learning rates and the LR range test (Smith, WACV 2017).

The core is framework-free: ``import cyclr`` imports neither numpy nor any deep
learning framework. Framework adapters live in ``cyclr.torch``, ``cyclr.keras``
and ``cyclr.optax``; plots in ``cyclr.plot``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .scale import register_scale_fn
from .schedules import (
    CyclicSchedule,
    OneCycleSchedule,
    RangeSweep,
    base_lr_from_max_lr,
    cycle_aligned_iterations,
    recommended_step_size,
    schedule_from_dict,
)

__version__ = "0.1.0"

# Names whose modules need numpy: loaded on first access, not at import.
_LAZY: dict[str, str] = {
    "Bounds": ".suggest",
    "NoSuggestionError": ".suggest",
    "RangeTestRecorder": ".rangetest",
    "RangeTestResult": ".rangetest",
}

__all__ = [
    "CyclicSchedule",
    "OneCycleSchedule",
    "RangeSweep",
    "base_lr_from_max_lr",
    "cycle_aligned_iterations",
    "recommended_step_size",
    "register_scale_fn",
    "schedule_from_dict",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cyclr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
