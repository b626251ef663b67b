"""The cyclical schedule's formulas, each written once over an array namespace.

Every piece takes ``ops``, the namespace its arithmetic runs in:
:data:`SCALAR_OPS` (``math``, for one Python number), :func:`numpy_ops` (for
numpy arrays) or the float32 namespace of :mod:`cyclr._traced` (over
``keras.ops`` or ``jax.numpy``, for traced steps). With :data:`SCALAR_OPS` the
results are PyTorch's, operation by operation, so the scalar path stays
bit-identical to ``torch.optim.lr_scheduler.CyclicLR``.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186
"""

from __future__ import annotations

import functools
import math
from typing import Any, Protocol


class ArrayOps(Protocol):
    """What the formulas need of a namespace: ``math``-like for scalars, ``numpy``-like for arrays."""

    def cos(self, x: Any, /) -> Any:
        """Elementwise cosine."""

    def power(self, base: float, exponent: Any, /) -> Any:
        """``base ** exponent``, elementwise over ``exponent``."""


class _ScalarOps:
    """``math`` for one Python number, with Python's ``**`` as PyTorch computes ``gamma ** iteration``."""

    cos = staticmethod(math.cos)

    @staticmethod
    def power(base: float, exponent: Any) -> Any:
        value = base**exponent
        if isinstance(value, complex):
            raise ValueError(
                f"iteration must be a whole number with a negative gamma={base!r}, got iteration={exponent!r}"
            )
        if isinstance(value, int) and not isinstance(value, bool):
            # An integer gamma keeps Python's exact power, as PyTorch does, until it leaves the float range.
            float(value)  # OverflowError past the float range, as a float power raises
        return value


class _NumpyOps:
    """``numpy`` for arrays of iterations."""

    def __init__(self) -> None:
        import numpy

        self._np = numpy
        self.cos = numpy.cos

    def power(self, base: float, exponent: Any) -> Any:
        np = self._np
        if base < 0 and (exponent != np.floor(exponent)).any():
            raise ValueError(f"iteration must be whole numbers with a negative gamma={base!r}")
        return np.power(float(base), exponent)


SCALAR_OPS: ArrayOps = _ScalarOps()


@functools.lru_cache(maxsize=1)
def numpy_ops() -> ArrayOps:
    """The numpy namespace (numpy is imported on first use, so ``import cyclr`` stays light)."""
    return _NumpyOps()


def shaped(position: Any, shape: str, ops: ArrayOps) -> Any:
    """The wave's ``shape`` applied to the triangular ``position`` (0 at the bounds, 1 at the peak).

    ``"welch"`` is parabolic and ``"hann"`` sinusoidal; both keep the ends and the peak.
    """
    if shape == "welch":
        return position * (2.0 - position)
    if shape == "hann":
        return 0.5 - 0.5 * ops.cos(math.pi * position)
    return position


def halving(cycle: Any) -> Any:
    """triangular2's amplitude: 1 in the first cycle, halved in each one after.

    ``2 ** (1 - cycle)`` equals ``1 / 2 ** (cycle - 1)`` exactly and does not
    overflow after 1024 cycles.
    """
    return 2.0 ** (1 - cycle)


def amplitude(mode: str, gamma: float, x: Any, ops: ArrayOps) -> Any:
    """The built-in ``mode``'s amplitude factor at ``x``: the cycle number, or the iteration for ``exp_range``."""
    if mode == "triangular":
        return 1.0
    if mode == "triangular2":
        return halving(x)
    return ops.power(gamma, x)


def lr_from_wave(base_lr: float, max_lr: float, position: Any, scale: Any) -> Any:
    """The LR at a wave ``position`` and amplitude ``scale``: ``base_lr`` at 0, ``max_lr`` at the full peak."""
    return base_lr + (max_lr - base_lr) * position * scale


def momentum_from_wave(position: Any, scale: Any, base_momentum: float, max_momentum: float) -> Any:
    """The momentum at a wave ``position``: ``max_momentum`` where the LR is lowest, opposite to it."""
    return max_momentum - (max_momentum - base_momentum) * position * scale
