"""Keras 3 adapter (any backend): cyclical LR schedules, momentum cycling and the LR range test (:class:`LRFinder`).

Schedules are ``keras.optimizers.schedules.LearningRateSchedule`` subclasses
registered under the package ``"cyclr"``, so a model compiled with one saves to
``.keras`` and loads with ``keras.models.load_model`` (no ``custom_objects``)
once ``cyclr.keras`` is imported.

- :class:`CyclicLR` and :class:`OneCycleLR` take the options of the core
  :class:`~cyclr.CyclicSchedule` / :class:`~cyclr.OneCycleSchedule`.
- :class:`CyclicalLearningRate`, :class:`TriangularCyclicalLearningRate`,
  :class:`Triangular2CyclicalLearningRate` and
  :class:`ExponentialCyclicalLearningRate` take TensorFlow Addons' arguments:
  switch by changing the import. TF Addons computes the LR at the optimizer's
  ``iterations`` (0 for the first update) with the paper's formula, as the core
  does, so the values are the same.

A schedule receives the step as a backend tensor, so a custom ``scale_fn``
must use operators or ``keras.ops`` (as with TF Addons), and must be registered
with :func:`cyclr.register_scale_fn` for the model to be saved. An unregistered
function trains fine, but saving raises a ``TypeError`` that says how to register
it (Keras has already opened the target file by then and leaves it empty).
Loading resolves the name in the registry and imports nothing, also under
``safe_mode``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Literal, Union

import keras
from keras import ops

from . import _traced
from . import _validate as check
from ._keras_finder import LRFinder, _inner
from .scale import ScaleFn, register_scale_fn, scale_fn_from_ref, scale_fn_to_ref
from .schedules import SCALE_MODES, CyclicSchedule, OneCycleSchedule

__all__ = [
    "CyclicLR",
    "CyclicMomentum",
    "CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "LRFinder",
    "OneCycleLR",
    "Triangular2CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
]

CoreSchedule = Union[CyclicSchedule, OneCycleSchedule]
_register = keras.saving.register_keras_serializable(package="cyclr")


def _plain(value: Any) -> Any:
    """A JSON-able Python number for numpy / tensor scalars; anything else unchanged."""
    return value.item() if hasattr(value, "item") else value


class _CoreBacked(keras.optimizers.schedules.LearningRateSchedule):
    """A Keras schedule that evaluates a core schedule with ``keras.ops``."""

    schedule: CoreSchedule
    name: str

    def _setup(self, schedule: CoreSchedule, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        _traced.check_traceable(schedule)
        self.schedule = schedule
        self.name = name

    def __call__(self, step: Any) -> Any:
        step = ops.cast(_traced.concrete_step(step), "float32")
        if isinstance(self.schedule, CyclicSchedule):
            return _traced.cyclic_lr(self.schedule, step, ops)
        return _traced.one_cycle_lr(self.schedule, step, ops)

    def get_config(self) -> dict[str, Any]:
        """The core schedule's fields (``scale_fn`` by reference) and the name."""
        config = {k: _plain(v) for k, v in self.schedule.to_dict().items() if k not in ("kind", "type")}
        return {**config, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild from :meth:`get_config`; a ``scale_fn`` is resolved by registered name only.

        Nothing is imported, so this is safe under Keras' ``safe_mode``.

        Raises:
            TypeError: ``config`` is not a dict, or a value has the wrong type.
            ValueError: a key this class does not take, or an unregistered scale function.
        """
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise TypeError(f"config must be a dict with string keys, got {type(config).__name__}")
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - accepted)
        if unknown:
            raise ValueError(f"config has keys {unknown} that {cls.__name__} does not take")
        config = dict(config)
        if config.get("scale_fn") is not None:
            config["scale_fn"] = scale_fn_from_ref(config["scale_fn"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule!r}, name={self.name!r})"


@_register
class CyclicLR(_CoreBacked):
    """The cyclical learning rate with every option of :class:`cyclr.CyclicSchedule`.

    Asymmetric cycles (``step_size_down``), the three policies (``mode``), a
    custom ``scale_fn`` and the wave ``shape``; see the core class for details.
    """

    def __init__(
        self,
        base_lr: float,
        max_lr: float,
        step_size_up: float = 2000,
        step_size_down: float | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: ScaleFn | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        shape: Literal["triangular", "welch", "hann"] = "triangular",
        name: str = "CyclicLR",
    ) -> None:
        core = CyclicSchedule(base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, shape)
        self._setup(core, name)


@_register
class OneCycleLR(_CoreBacked):
    """Smith's 1cycle policy with the options of :class:`cyclr.OneCycleSchedule`.

    After ``total_steps`` the LR stays at its final value.
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        name: str = "OneCycleLR",
    ) -> None:
        core = OneCycleSchedule(
            max_lr, total_steps, pct_start, anneal_strategy, div_factor, final_div_factor, three_phase
        )
        self._setup(core, name)


# --- TensorFlow Addons' API ---------------------------------------------------


@register_scale_fn("cyclr.keras.halving")
def _halving(x: Any) -> Any:
    """triangular2's scale applied to whatever TF Addons passes (cycle or step)."""
    return 1.0 / 2.0 ** (x - 1.0)


@register_scale_fn("cyclr.keras.gamma_power")
@dataclasses.dataclass(frozen=True)
class _GammaPower:
    """``gamma ** x``: exp_range's scale applied to the cycle number, as TF Addons allows."""

    gamma: float

    def __call__(self, x: Any) -> Any:
        return self.gamma**x


@_register
class CyclicalLearningRate(_CoreBacked):
    """Drop-in for ``tfa.optimizers.CyclicalLearningRate``.

    Unlike TF Addons, the bounds are checked (``maximal_learning_rate >=
    initial_learning_rate >= 0``) and ``scale_fn`` is saved by reference, so the
    model reloads.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_fn: ScaleFn,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        name: str = "CyclicalLearningRate",
    ) -> None:
        if not callable(scale_fn):
            raise TypeError(f"scale_fn must be callable, got {scale_fn!r}")
        core = CyclicSchedule(
            initial_learning_rate, maximal_learning_rate, step_size, scale_fn=scale_fn, scale_mode=scale_mode
        )
        self._setup(core, name)
        self.scale_mode = scale_mode

    @property
    def initial_learning_rate(self) -> float:
        return self.schedule.base_lr  # type: ignore[union-attr]

    @property
    def maximal_learning_rate(self) -> float:
        return self.schedule.max_lr

    @property
    def step_size(self) -> float:
        return self.schedule.step_size_up  # type: ignore[union-attr]

    @property
    def scale_fn(self) -> ScaleFn | None:
        return self.schedule.scale_fn  # type: ignore[union-attr]

    def _tfa_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": _plain(self.initial_learning_rate),
            "maximal_learning_rate": _plain(self.maximal_learning_rate),
            "step_size": _plain(self.step_size),
            "scale_mode": self.scale_mode,
            "name": self.name,
        }

    def get_config(self) -> dict[str, Any]:
        return {**self._tfa_config(), "scale_fn": scale_fn_to_ref(self.schedule.scale_fn)}  # type: ignore[union-attr,arg-type]


@_register
class TriangularCyclicalLearningRate(CyclicalLearningRate):
    """Drop-in for ``tfa.optimizers.TriangularCyclicalLearningRate``: constant amplitude."""

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        name: str = "TriangularCyclicalLearningRate",
    ) -> None:
        # the scale is 1 whatever it is given, so scale_mode changes nothing
        check.choice("scale_mode", scale_mode, SCALE_MODES)
        self._setup(CyclicSchedule(initial_learning_rate, maximal_learning_rate, step_size), name)
        self.scale_mode = scale_mode

    def get_config(self) -> dict[str, Any]:
        return self._tfa_config()


@_register
class Triangular2CyclicalLearningRate(CyclicalLearningRate):
    """Drop-in for ``tfa.optimizers.Triangular2CyclicalLearningRate``: amplitude halved every cycle.

    ``scale_mode="iterations"`` halves it every step instead, as TF Addons does.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        name: str = "Triangular2CyclicalLearningRate",
    ) -> None:
        check.choice("scale_mode", scale_mode, SCALE_MODES)
        if scale_mode == "cycle":
            core = CyclicSchedule(initial_learning_rate, maximal_learning_rate, step_size, mode="triangular2")
        else:
            core = CyclicSchedule(
                initial_learning_rate, maximal_learning_rate, step_size, scale_fn=_halving, scale_mode="iterations"
            )
        self._setup(core, name)
        self.scale_mode = scale_mode

    def get_config(self) -> dict[str, Any]:
        return self._tfa_config()


@_register
class ExponentialCyclicalLearningRate(CyclicalLearningRate):
    """Drop-in for ``tfa.optimizers.ExponentialCyclicalLearningRate``: amplitude times ``gamma**step``.

    ``scale_mode="cycle"`` uses ``gamma**cycle`` instead, as TF Addons does.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_mode: Literal["cycle", "iterations"] = "iterations",
        gamma: float = 1.0,
        name: str = "ExponentialCyclicalLearningRate",
    ) -> None:
        check.choice("scale_mode", scale_mode, SCALE_MODES)
        check.in_range("gamma", gamma, 0.0, 1.0, low_open=True)  # gamma > 1 overflows, and traced steps cannot raise
        if scale_mode == "iterations":
            core = CyclicSchedule(
                initial_learning_rate, maximal_learning_rate, step_size, mode="exp_range", gamma=gamma
            )
        else:
            core = CyclicSchedule(
                initial_learning_rate, maximal_learning_rate, step_size, gamma=gamma, scale_fn=_GammaPower(gamma)
            )
        self._setup(core, name)
        self.scale_mode = scale_mode
        self.gamma = gamma

    def get_config(self) -> dict[str, Any]:
        return {**self._tfa_config(), "gamma": _plain(self.gamma)}


# --- momentum -----------------------------------------------------------------


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
        schedule: a cyclr Keras schedule (:class:`CyclicLR`, :class:`OneCycleLR`,
            the TF Addons classes) or a core :class:`~cyclr.CyclicSchedule` /
            :class:`~cyclr.OneCycleSchedule`.
        base_momentum, max_momentum: the bounds; default 0.8-0.9 for a cyclic
            schedule and 0.85-0.95 for 1cycle, as in PyTorch.
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
        model = self.model
        eager = bool(model.run_eagerly) or (keras.backend.backend() == "torch" and not model.jit_compile)
        if not eager:
            raise RuntimeError(
                "CyclicMomentum needs an eager train step: the optimizer's momentum is a Python float "
                f"fixed when the step is compiled (backend={keras.backend.backend()!r}, "
                f"jit_compile={model.jit_compile!r}). Compile the model with run_eagerly=True."
            )
        # under mixed_float16 Keras wraps the optimizer in a LossScaleOptimizer, which has neither attribute
        self._optimizer = _inner(model.optimizer)
        self.attribute = self._attribute(self._optimizer)

    @staticmethod
    def _attribute(optimizer: Any) -> str:
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

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(keras.ops.convert_to_numpy(self._optimizer.iterations))
        if isinstance(self.core, OneCycleSchedule):
            step = min(step, self.core.total_steps)
        value = float(self.core.momentum(step, self.base_momentum, self.max_momentum))
        setattr(self._optimizer, self.attribute, value)
