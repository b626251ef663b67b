"""Keras 3 callbacks: momentum cycled opposite to a cyclr schedule's learning rate."""

from __future__ import annotations

from typing import Any

import keras

from .. import _traced
from ..schedules import CoreSchedule, CyclicSchedule, OneCycleSchedule
from ._optimizer import inner_optimizer
from .schedules import _CoreBacked

__all__ = ["CyclicMomentum"]


class CyclicMomentum(keras.callbacks.Callback):
    """Cycle the optimizer's ``momentum`` (SGD, RMSprop) or ``beta_1`` (Adam family) opposite to the LR.

    Before each batch it sets the attribute to ``schedule``'s momentum at the
    optimizer's ``iterations``: ``max_momentum`` at the LR's minimum,
    ``base_momentum`` at its peak (as PyTorch's ``CyclicLR`` / ``OneCycleLR``).

    Keras optimizers read these as plain Python floats, so the change reaches
    the update only when the train step runs eagerly: the torch backend
    without ``jit_compile``, or ``run_eagerly=True`` on any backend. A compiled
    step (jax, tensorflow, ``torch.compile``) would keep the value it was traced
    with; the callback raises a ``RuntimeError`` at the start of training then.

    Args:
        schedule: a cyclr Keras schedule (:class:`~cyclr.keras.CyclicLR`,
            :class:`~cyclr.keras.OneCycleLR`, the TF Addons classes) or a core
            :class:`~cyclr.CyclicSchedule` / :class:`~cyclr.OneCycleSchedule`.
        base_momentum: the momentum at the LR's peak; None takes PyTorch's
            default, 0.8 for a cyclic schedule and 0.85 for 1cycle.
        max_momentum: the momentum at the LR's minimum; None takes PyTorch's
            default, 0.9 for a cyclic schedule and 0.95 for 1cycle.

    Raises:
        TypeError: ``schedule`` is neither a cyclr Keras schedule nor a core one.
        ValueError: a bound is not finite.

    Examples:
        >>> import keras
        >>> from cyclr.keras import CyclicLR, CyclicMomentum
        >>> lr = CyclicLR(0.001, 0.006, step_size_up=4)
        >>> callback = CyclicMomentum(lr)
        >>> (callback.base_momentum, callback.max_momentum)
        (0.8, 0.9)

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        https://arxiv.org/abs/1803.09820
    """

    def __init__(
        self,
        schedule: _CoreBacked | CoreSchedule,
        base_momentum: float | None = None,
        max_momentum: float | None = None,
    ) -> None:
        super().__init__()
        core = schedule.schedule if isinstance(schedule, _CoreBacked) else schedule
        if not isinstance(core, (CyclicSchedule, OneCycleSchedule)):
            raise TypeError(
                "schedule must be a cyclr Keras schedule, CyclicSchedule or OneCycleSchedule, "
                f"got {type(schedule).__name__}"
            )
        self.core = core
        self.base_momentum, self.max_momentum = _traced.momentum_bounds(core, base_momentum, max_momentum)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Find the optimizer attribute to cycle; raise if the train step is compiled.

        Raises:
            RuntimeError: the train step is compiled, so a new momentum would not reach it.
            TypeError: the optimizer has neither ``beta_1`` nor ``momentum``.
            ValueError: the optimizer was built with ``momentum=0``.
        """
        model = self.model
        eager = bool(model.run_eagerly) or (keras.backend.backend() == "torch" and not model.jit_compile)
        if not eager:
            raise RuntimeError(
                "CyclicMomentum needs an eager train step: the optimizer's momentum is a Python float "
                f"fixed when the step is compiled (backend={keras.backend.backend()!r}, "
                f"jit_compile={model.jit_compile!r}). Compile the model with run_eagerly=True."
            )
        self._optimizer = inner_optimizer(model.optimizer)
        self.attribute = _momentum_attribute(self._optimizer)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Set the momentum for the update about to be made."""
        step = int(keras.ops.convert_to_numpy(self._optimizer.iterations))
        if isinstance(self.core, OneCycleSchedule):
            step = min(step, self.core.total_steps)
        value = float(self.core.momentum(step, self.base_momentum, self.max_momentum))
        setattr(self._optimizer, self.attribute, value)


def _momentum_attribute(optimizer: Any) -> str:
    """``"beta_1"`` (Adam family) or ``"momentum"`` (SGD, RMSprop), whichever ``optimizer`` has."""
    if hasattr(optimizer, "beta_1"):
        return "beta_1"
    if getattr(optimizer, "momentum", None) is None:
        raise TypeError(f"{type(optimizer).__name__} has neither beta_1 nor momentum to cycle")
    if not optimizer.momentum > 0:
        # Keras allocates the momentum buffers only for a nonzero momentum.
        raise ValueError(
            f"the optimizer must be built with momentum > 0 for CyclicMomentum, got momentum={optimizer.momentum!r}"
        )
    return "momentum"
