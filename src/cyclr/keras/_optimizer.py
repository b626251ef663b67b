"""What cyclr's Keras code needs to know about Keras optimizers, in one place."""

from __future__ import annotations

from typing import Any


def inner_optimizer(optimizer: Any) -> Any:
    """The optimizer that owns the learning rate and momentum.

    Under a ``mixed_float16`` policy Keras wraps the compiled optimizer in a
    ``LossScaleOptimizer``, which has neither; its ``inner_optimizer`` does.

    Args:
        optimizer: a Keras optimizer, wrapped or not.

    Returns:
        The wrapped optimizer, or ``optimizer`` itself.

    Examples:
        >>> import keras
        >>> from cyclr.keras._optimizer import inner_optimizer
        >>> sgd = keras.optimizers.SGD(0.1)
        >>> inner_optimizer(keras.optimizers.LossScaleOptimizer(sgd)) is sgd, inner_optimizer(sgd) is sgd
        (True, True)
    """
    return getattr(optimizer, "inner_optimizer", optimizer)
