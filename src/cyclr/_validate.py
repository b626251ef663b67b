"""Argument checks shared by every public constructor.

Each check raises at construction time with a message that names the argument,
the rule and the value received.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any


def real(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise TypeError if it is not a real number."""
    if isinstance(value, bool) or not _is_real(value):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        result = float(value)
    except OverflowError:  # an integer past the float range
        result = math.inf
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {name}={_short(value)}")
    return result


def _short(value: Any) -> str:
    """``repr(value)``, shortened for integers too long to read."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:12]}...({len(text)} digits)"


def non_negative(name: str, value: Any) -> float:
    result = real(name, value)
    if result < 0:
        raise ValueError(f"{name} must be >= 0, got {name}={value!r}")
    return result


def positive(name: str, value: Any) -> float:
    result = real(name, value)
    if result <= 0:
        raise ValueError(f"{name} must be > 0, got {name}={value!r}")
    return result


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    result = int(value)
    if result < 1:
        raise ValueError(f"{name} must be >= 1, got {name}={value!r}")
    return result


def in_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    result = real(name, value)
    too_low = result <= low if low_open else result < low
    if too_low or result > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {name}={value!r}")
    return result


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {name}={value!r}")
    return str(value)


def nonzero(name: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise ValueError if it is 0."""
    result = real(name, value)
    if result == 0:
        raise ValueError(f"{name} must be nonzero, got {name}={value!r}")
    return result


def flag(name: str, value: Any) -> bool:
    """Return ``value`` as a bool: a bool, or an integer 0 or 1 (as PyTorch's truth test reads it)."""
    if isinstance(value, bool) or (getattr(value, "ndim", None) == 0 and getattr(value.dtype, "kind", "") == "b"):
        return bool(value)
    if hasattr(value, "__index__") and not isinstance(value, (str, bytes)) and int(value) in (0, 1):
        return bool(int(value))
    raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")


def finite_span(low_name: str, low: float, high_name: str, high: float) -> None:
    """Raise ValueError if ``high - low`` overflows to a non-finite float."""
    if not math.isfinite(float(high) - float(low)):
        raise ValueError(f"{high_name} - {low_name} overflows: got {low_name}={low!r}, {high_name}={high!r}")


def caution(message: str, stacklevel: int = 4) -> None:
    """A UserWarning for a value that is accepted (PyTorch accepts it) but is most likely a mistake."""
    warnings.warn(message, UserWarning, stacklevel=stacklevel)


def ordered(low_name: str, low: float, high_name: str, high: float) -> None:
    if high < low:
        raise ValueError(f"{high_name} must be >= {low_name}, got {low_name}={low!r}, {high_name}={high!r}")


def _is_real(value: Any) -> bool:
    if isinstance(value, (int, float)):
        return True
    # numpy / torch scalars: anything 0-d that converts losslessly to float
    return hasattr(value, "__float__") and getattr(value, "ndim", 0) == 0 and not isinstance(value, (str, bytes))
