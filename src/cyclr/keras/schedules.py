"""Keras 3 learning-rate schedules computing the core schedules with ``keras.ops``.

Every class is a ``keras.optimizers.schedules.LearningRateSchedule`` registered
under the package ``"cyclr"``, so a model compiled with one saves to ``.keras``
and loads with ``keras.models.load_model`` (no ``custom_objects``) once
``cyclr.keras`` is imported.

A schedule receives the step as a backend tensor, so a custom ``scale_fn``
must use operators or ``keras.ops`` (as with TF Addons), and must be registered
with :func:`cyclr.register_scale_fn` for the model to be saved. An unregistered
function trains fine, but saving raises a ``TypeError`` that says how to register
it (Keras has already opened the target file by then and leaves it empty).
Loading resolves the name in the registry and imports nothing, also under
``safe_mode``.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import keras
from keras import ops

from .. import _formulas, _traced
from .. import _validate as check
from ..scale import ScaleFn, register_scale_fn, scale_fn_from_ref, scale_fn_to_ref
from ..schedules import (
    _LEGACY_KIND_KEY,
    KIND_KEY,
    SCALE_MODES,
    AnnealStrategy,
    CoreSchedule,
    CyclicMode,
    CyclicSchedule,
    OneCycleSchedule,
    ScaleMode,
    WaveShape,
)

__all__ = [
    "CyclicLR",
    "CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "OneCycleLR",
    "Triangular2CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
]

# The registered names ("cyclr>CyclicLR", ...) are what saved .keras files refer to: keep them.
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
        """The learning rate at ``step`` (the optimizer's ``iterations``), a float32 tensor."""
        return _traced.lr(self.schedule, ops.cast(_traced.concrete_step(step), "float32"), ops)

    def get_config(self) -> dict[str, Any]:
        """The core schedule's fields (``scale_fn`` by reference) and the name."""
        fields = self.schedule.to_dict().items()
        config = {k: _plain(v) for k, v in fields if k not in (KIND_KEY, _LEGACY_KIND_KEY)}
        return {**config, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild from :meth:`get_config`; a ``scale_fn`` is resolved by registered name only.

        Nothing is imported, so this is safe under Keras' ``safe_mode``.

        Args:
            config: the output of :meth:`get_config`.

        Returns:
            An equal schedule.

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

    Args:
        base_lr: lower bound, the LR at step 0 and at every cycle end.
        max_lr: upper bound, reached ``step_size_up`` steps into a cycle (times its scale).
        step_size_up: steps of the rising half of a cycle.
        step_size_down: steps of the falling half; None means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: decay of ``exp_range``, in (0, 1].
        scale_fn: custom amplitude scale (operators or ``keras.ops`` only); overrides ``mode``.
        scale_mode: ``scale_fn`` reads the cycle number (``"cycle"``) or the step (``"iterations"``).
        shape: ``"triangular"``, ``"welch"`` or ``"hann"`` wave.
        name: the schedule's name in the saved config.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, or beyond what float32 steps can compute.

    Examples:
        >>> import keras
        >>> from cyclr.keras import CyclicLR
        >>> lr = CyclicLR(0.001, 0.006, step_size_up=4)
        >>> round(float(lr(4)), 6)
        0.006
        >>> optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        base_lr: float,
        max_lr: float,
        step_size_up: float = 2000,
        step_size_down: float | None = None,
        mode: CyclicMode = "triangular",
        gamma: float = 1.0,
        scale_fn: ScaleFn | None = None,
        scale_mode: ScaleMode = "cycle",
        shape: WaveShape = "triangular",
        name: str = "CyclicLR",
    ) -> None:
        core = CyclicSchedule(base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, shape)
        self._setup(core, name)


@_register
class OneCycleLR(_CoreBacked):
    """Smith's 1cycle policy with the options of :class:`cyclr.OneCycleSchedule`.

    From its last step, ``total_steps - 1``, on the LR stays at its final value.

    Args:
        max_lr: the peak LR, reached at the end of the warm-up.
        total_steps: optimizer updates in the whole run.
        pct_start: fraction of ``total_steps`` spent warming up.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: the initial LR is ``max_lr / div_factor``.
        final_div_factor: the last LR is ``initial_lr / final_div_factor``.
        three_phase: come back down to the initial LR before the final anneal.
        name: the schedule's name in the saved config.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, or beyond float32's range.

    Examples:
        >>> from cyclr.keras import OneCycleLR
        >>> lr = OneCycleLR(0.1, total_steps=10, pct_start=0.3)
        >>> round(float(lr(2)), 6)
        0.1

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        https://arxiv.org/abs/1803.09820

        Smith & Topin, "Super-Convergence", https://arxiv.org/abs/1708.07120
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: AnnealStrategy = "cos",
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
    return _formulas.halving(x)


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

    TF Addons computes the LR at the optimizer's ``iterations`` (0 for the first
    update) with the paper's formula, as the core does, so the values are the
    same. Unlike TF Addons, the bounds are checked and ``scale_fn`` is saved by
    reference, so the model reloads.

    Args:
        initial_learning_rate: the lower bound (TF Addons' name for ``base_lr``).
        maximal_learning_rate: the upper bound (``max_lr``).
        step_size: steps of each half cycle.
        scale_fn: the amplitude scale, of the cycle number or the step (operators or ``keras.ops`` only).
        scale_mode: ``scale_fn`` reads the cycle number (``"cycle"``) or the step (``"iterations"``).
        name: the schedule's name in the saved config.

    Raises:
        TypeError: ``scale_fn`` is not callable, or an argument has the wrong type.
        ValueError: an argument is out of range.

    Examples:
        >>> from cyclr.keras import CyclicalLearningRate
        >>> lr = CyclicalLearningRate(0.001, 0.006, step_size=4, scale_fn=lambda cycle: 1.0)
        >>> round(float(lr(4)), 6)
        0.006

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_fn: ScaleFn,
        scale_mode: ScaleMode = "cycle",
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
        """The lower bound, the core schedule's ``base_lr``."""
        return self.schedule.base_lr  # type: ignore[union-attr]

    @property
    def maximal_learning_rate(self) -> float:
        """The upper bound, the core schedule's ``max_lr``."""
        return self.schedule.max_lr

    @property
    def step_size(self) -> float:
        """Steps of each half cycle."""
        return self.schedule.step_size_up  # type: ignore[union-attr]

    @property
    def scale_fn(self) -> ScaleFn | None:
        """The amplitude scale."""
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
        """TF Addons' config keys, with ``scale_fn`` by its registered name."""
        scale_fn = self.schedule.scale_fn  # type: ignore[union-attr]
        return {**self._tfa_config(), "scale_fn": scale_fn_to_ref(scale_fn)}  # type: ignore[arg-type]


@_register
class TriangularCyclicalLearningRate(CyclicalLearningRate):
    """Drop-in for ``tfa.optimizers.TriangularCyclicalLearningRate``: constant amplitude.

    Args:
        initial_learning_rate: the lower bound.
        maximal_learning_rate: the upper bound.
        step_size: steps of each half cycle.
        scale_mode: accepted for TF Addons' API; the scale is 1 either way.
        name: the schedule's name in the saved config.

    Raises:
        ValueError: an argument is out of range, or ``scale_mode`` is not a choice.

    Examples:
        >>> from cyclr.keras import TriangularCyclicalLearningRate
        >>> lr = TriangularCyclicalLearningRate(0.001, 0.006, step_size=4)
        >>> tuple(round(float(lr(step)), 6) for step in (0, 4, 8, 12))
        (0.001, 0.006, 0.001, 0.006)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_mode: ScaleMode = "cycle",
        name: str = "TriangularCyclicalLearningRate",
    ) -> None:
        check.choice("scale_mode", scale_mode, SCALE_MODES)
        self._setup(CyclicSchedule(initial_learning_rate, maximal_learning_rate, step_size), name)
        self.scale_mode = scale_mode

    def get_config(self) -> dict[str, Any]:
        """TF Addons' config keys."""
        return self._tfa_config()


@_register
class Triangular2CyclicalLearningRate(CyclicalLearningRate):
    """Drop-in for ``tfa.optimizers.Triangular2CyclicalLearningRate``: amplitude halved every cycle.

    ``scale_mode="iterations"`` halves it every step instead, as TF Addons does.

    Args:
        initial_learning_rate: the lower bound.
        maximal_learning_rate: the upper bound.
        step_size: steps of each half cycle.
        scale_mode: halve per cycle (``"cycle"``) or per step (``"iterations"``).
        name: the schedule's name in the saved config.

    Raises:
        ValueError: an argument is out of range, or ``scale_mode`` is not a choice.

    Examples:
        >>> from cyclr.keras import Triangular2CyclicalLearningRate
        >>> lr = Triangular2CyclicalLearningRate(0.001, 0.006, step_size=4)
        >>> tuple(round(float(lr(step)), 6) for step in (4, 12, 20))
        (0.006, 0.0035, 0.00225)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_mode: ScaleMode = "cycle",
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
        """TF Addons' config keys."""
        return self._tfa_config()


@_register
class ExponentialCyclicalLearningRate(CyclicalLearningRate):
    """Drop-in for ``tfa.optimizers.ExponentialCyclicalLearningRate``: amplitude times ``gamma**step``.

    ``scale_mode="cycle"`` uses ``gamma**cycle`` instead, as TF Addons does.

    Args:
        initial_learning_rate: the lower bound.
        maximal_learning_rate: the upper bound.
        step_size: steps of each half cycle.
        scale_mode: ``gamma`` to the power of the step (``"iterations"``) or of the cycle (``"cycle"``).
        gamma: the decay, in (0, 1].
        name: the schedule's name in the saved config.

    Raises:
        ValueError: ``gamma`` is outside (0, 1], another argument is out of range,
            or ``scale_mode`` is not a choice.

    Examples:
        >>> from cyclr.keras import ExponentialCyclicalLearningRate
        >>> lr = ExponentialCyclicalLearningRate(0.0, 1.0, step_size=2, gamma=0.5)
        >>> round(float(lr(2)), 6)
        0.25

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        initial_learning_rate: float,
        maximal_learning_rate: float,
        step_size: float,
        scale_mode: ScaleMode = "iterations",
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
        """TF Addons' config keys, with ``gamma``."""
        return {**self._tfa_config(), "gamma": _plain(self.gamma)}

