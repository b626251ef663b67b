"""What the Keras adapter needs to know about an optimizer."""

from __future__ import annotations

from typing import Any


def inner_optimizer(optimizer: Any) -> Any:
    """The optimizer that owns the learning rate and momentum.

    Under ``mixed_float16`` Keras wraps the optimizer in a ``LossScaleOptimizer``,
    which has neither attribute; anything else is returned unchanged.
    """
    return getattr(optimizer, "inner_optimizer", optimizer)
