"""Learning-rate schedules as pure functions of the iteration.

Every schedule is a frozen dataclass: ``sched(iteration) -> lr``, where the
iteration counts optimizer updates from 0. A Python number gives a float; a
sequence or numpy array gives a numpy array (numpy is imported only then, so
``import cyclr`` stays light). The arithmetic follows PyTorch's ``CyclicLR`` and
``OneCycleLR`` operation by operation, so the scalar path is bit-identical.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union

from . import _validate as check
from .scale import ScaleFn, _short, scale_fn_from_ref, scale_fn_to_ref

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    Iterations = Union[int, float, ArrayLike]
else:
    Iterations = Any

MODES = ("triangular", "triangular2", "exp_range")
SCALE_MODES = ("cycle", "iterations")
SHAPES = ("triangular", "welch", "hann")
ANNEAL_STRATEGIES = ("cos", "linear")
STEP_MODES = ("linear", "exp")


def check_momentum_bounds(base_momentum: Any, max_momentum: Any) -> None:
    """Momentum bounds are real numbers in [0, 1] with ``base_momentum <= max_momentum``."""
    check.in_range("base_momentum", base_momentum, 0.0, 1.0)
    check.in_range("max_momentum", max_momentum, 0.0, 1.0)
    check.ordered("base_momentum", base_momentum, "max_momentum", max_momentum)


def _numpy() -> Any:
    import numpy

    return numpy


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) or getattr(value, "ndim", None) == 0


def _scalar_iteration(value: Any) -> int | float:
    if isinstance(value, bool) or not check._is_real(value):
        raise TypeError(f"iteration must be a real number, got {value!r} ({type(value).__name__})")
    it = int(value) if hasattr(value, "__index__") else float(value)
    if not math.isfinite(it) or it < 0:
        raise ValueError(f"iteration must be a finite number >= 0, got iteration={value!r}")
    return it


def _array_iteration(value: Any) -> np.ndarray:
    np = _numpy()
    if isinstance(value, (str, bytes)) or np.asarray(value).dtype.kind not in "biuf":
        raise TypeError(f"iteration must be a number or an array of numbers, got {value!r}")
    try:
        it = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"iteration must be a number or an array of numbers, got {value!r}") from None
    if it.size and (not np.isfinite(it).all() or (it < 0).any()):
        bad = it[~np.isfinite(it) | (it < 0)][0]
        raise ValueError(f"iteration must be finite and >= 0, got iteration={bad!r}")
    return it


class _Serialisable:
    """to_dict/from_dict for the frozen dataclasses below."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that :func:`schedule_from_dict` turns back into an equal schedule."""
        out: dict[str, Any] = {"type": self.kind}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "scale_fn" and value is not None:
                value = scale_fn_to_ref(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Rebuild a schedule from :meth:`to_dict`'s output.

        The fields are checked before anything is built: unknown or missing
        ones, and numbers no float can hold, raise. A ``scale_fn`` is resolved
        by registered name only (see :func:`cyclr.register_scale_fn`).

        Raises:
            TypeError: ``data`` is not a dict, or a field has the wrong type.
            ValueError: a field is unknown, missing or out of range, or the scale function is not registered.
        """
        fields = _checked_fields(cls, data)
        if fields.get("scale_fn") is not None:
            fields["scale_fn"] = scale_fn_from_ref(fields["scale_fn"])
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class CyclicSchedule(_Serialisable):
    """The paper's cyclical learning rate: ``base_lr`` -> ``max_lr`` -> ``base_lr``, repeated.

    Args:
        base_lr: lower bound, the LR at iteration 0 and at every cycle end.
        max_lr: upper bound, reached ``step_size_up`` iterations into a cycle
            (times the scale of the cycle).
        step_size_up, step_size_down: iterations of the rising and falling half
            (``step_size_down=None`` means a symmetric cycle).
        mode: ``"triangular"`` (constant amplitude), ``"triangular2"`` (halved
            each cycle) or ``"exp_range"`` (times ``gamma**iteration``).
        gamma: decay of ``exp_range``, in (0, 1].
        scale_fn: custom amplitude scale; overrides ``mode`` (then not checked) as in PyTorch.
        scale_mode: ``scale_fn`` takes the cycle number (``"cycle"``) or the
            iteration (``"iterations"``). Set by ``mode`` when ``scale_fn`` is None.
        shape: the wave: ``"triangular"`` (the paper's), ``"welch"`` (parabolic)
            or ``"hann"`` (sinusoidal); all three share bounds and period.
    """

    kind: ClassVar[str] = "cyclic"

    base_lr: float
    max_lr: float
    step_size_up: float = 2000
    step_size_down: float | None = None
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular"
    gamma: float = 1.0
    scale_fn: ScaleFn | None = None
    scale_mode: Literal["cycle", "iterations"] = "cycle"
    shape: Literal["triangular", "welch", "hann"] = "triangular"

    def __post_init__(self) -> None:
        base_lr = check.non_negative("base_lr", self.base_lr)
        max_lr = check.non_negative("max_lr", self.max_lr)
        check.ordered("base_lr", base_lr, "max_lr", max_lr)
        check.positive("step_size_up", self.step_size_up)
        if self.step_size_down is not None:
            check.positive("step_size_down", self.step_size_down)
        check.in_range("gamma", self.gamma, 0.0, 1.0, low_open=True)
        check.choice("shape", self.shape, SHAPES)
        check.choice("scale_mode", self.scale_mode, SCALE_MODES)
        if self.scale_fn is not None:
            # As in PyTorch, a custom scale_fn replaces the mode, whatever its value.
            if not callable(self.scale_fn):
                raise TypeError(f"scale_fn must be callable or None, got {self.scale_fn!r}")
        else:
            check.choice("mode", self.mode, MODES)
            # As in PyTorch, a built-in mode fixes what its scale depends on.
            object.__setattr__(self, "scale_mode", "iterations" if self.mode == "exp_range" else "cycle")
        down = self.step_size_up if self.step_size_down is None else self.step_size_down
        total = float(self.step_size_up) + float(down)
        # Derived once: wave() runs every optimizer step.
        object.__setattr__(self, "_total_size", total)
        object.__setattr__(self, "_step_ratio", float(self.step_size_up) / total)

    @property
    def total_size(self) -> float:
        """Iterations in one full cycle."""
        return self._total_size  # type: ignore[attr-defined,no-any-return]

    @property
    def step_ratio(self) -> float:
        """Fraction of a cycle spent rising."""
        return self._step_ratio  # type: ignore[attr-defined,no-any-return]

    def __call__(self, iteration: Iterations) -> Any:
        """The learning rate at ``iteration`` (a float, or an array for array input)."""
        return self.lr_from_wave(*self.wave(iteration))

    def momentum(self, iteration: Iterations, base_momentum: float = 0.8, max_momentum: float = 0.9) -> Any:
        """Momentum (or Adam's beta1) cycled opposite to the LR, as PyTorch's CyclicLR does.

        It is ``max_momentum`` when the LR is at ``base_lr`` and ``base_momentum``
        at the LR's peak.
        """
        check_momentum_bounds(base_momentum, max_momentum)
        return self.momentum_from_wave(*self.wave(iteration), base_momentum, max_momentum)

    def lr_from_wave(self, position: Any, scale: Any) -> Any:
        """The LR for a :meth:`wave` result (lets several bounds share one wave)."""
        return self.base_lr + (self.max_lr - self.base_lr) * position * scale

    @staticmethod
    def momentum_from_wave(position: Any, scale: Any, base_momentum: float, max_momentum: float) -> Any:
        """The momentum for a :meth:`wave` result: high when the LR is low."""
        return max_momentum - (max_momentum - base_momentum) * position * scale

    def wave(self, iteration: Iterations) -> tuple[Any, Any]:
        """``(position, scale)``: where in the cycle (0 at the bounds, 1 at the peak) and the amplitude."""
        if type(iteration) is int or _is_scalar(iteration):
            it = iteration if type(iteration) is int and iteration >= 0 else _scalar_iteration(iteration)
            total = self._total_size  # type: ignore[attr-defined]
            cycle = math.floor(1 + it / total)
            x = 1.0 + it / total - cycle
            ratio = self._step_ratio  # type: ignore[attr-defined]
            position = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
            if self.shape == "welch":
                position = position * (2.0 - position)
            elif self.shape == "hann":
                position = 0.5 - 0.5 * math.cos(math.pi * position)
            return position, self.scale_at(cycle, it)
        np = _numpy()
        its = _array_iteration(iteration)
        cycles = np.floor(1 + its / self.total_size)
        x = 1.0 + its / self.total_size - cycles
        ratio = self.step_ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            positions = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        if self.shape == "welch":
            positions = positions * (2.0 - positions)
        elif self.shape == "hann":
            positions = 0.5 - 0.5 * np.cos(np.pi * positions)
        return positions, self._scale_array(cycles, its, iteration)

    def cycle(self, iteration: Iterations) -> Any:
        """Cycle number (1, 2, ...) at ``iteration``."""
        if _is_scalar(iteration):
            return math.floor(1 + _scalar_iteration(iteration) / self.total_size)
        np = _numpy()
        return np.floor(1 + _array_iteration(iteration) / self.total_size).astype(np.int64)

    def scale_at(self, cycle: int | float, it: int | float) -> float:
        """Amplitude factor for ``cycle`` / iteration ``it`` (1.0 for ``triangular``)."""
        if self.scale_fn is not None:
            return self.scale_fn(cycle if self.scale_mode == "cycle" else it)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 2.0 ** (1 - cycle)  # == 1 / 2**(cycle - 1) exactly, without overflow after 1024 cycles
        return self.gamma**it

    def _scale_array(self, cycles: np.ndarray, its: np.ndarray, raw: Any) -> Any:
        np = _numpy()
        if self.scale_fn is None:
            if self.mode == "triangular":
                return 1.0
            if self.mode == "triangular2":
                return 2.0 ** (1 - cycles)
            return np.power(self.gamma, its)
        args = cycles if self.scale_mode == "cycle" else its
        try:
            values = np.asarray(self.scale_fn(args), dtype=np.float64)
            if values.shape == args.shape:
                return values
        except Exception:  # a scalar-only function (math.*, if/else): evaluate point by point
            pass
        scalars = args.astype(np.int64) if self.scale_mode == "cycle" else np.asarray(raw)
        return np.array([self.scale_fn(v) for v in scalars.ravel().tolist()], dtype=np.float64).reshape(args.shape)


@dataclasses.dataclass(frozen=True)
class OneCycleSchedule(_Serialisable):
    """Smith's 1cycle policy, with the semantics of PyTorch's ``OneCycleLR``.

    The LR warms up from ``max_lr / div_factor`` to ``max_lr`` over
    ``pct_start * total_steps`` steps, then anneals to
    ``max_lr / div_factor / final_div_factor``. With ``three_phase`` it first
    comes back down symmetrically to the initial LR, then anneals.
    """

    kind: ClassVar[str] = "one_cycle"

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        check.positive("max_lr", self.max_lr)
        check.positive_int("total_steps", self.total_steps)
        check.in_range("pct_start", self.pct_start, 0.0, 1.0)
        check.choice("anneal_strategy", self.anneal_strategy, ANNEAL_STRATEGIES)
        check.positive("div_factor", self.div_factor)
        check.positive("final_div_factor", self.final_div_factor)
        if not isinstance(self.three_phase, bool):
            raise TypeError(f"three_phase must be a bool, got {self.three_phase!r}")
        phases = self._phase_table()
        for start, end, *_ in phases:
            if not end > start:
                raise ValueError(
                    "every phase must last at least one step: got pct_start="
                    f"{self.pct_start!r} with total_steps={self.total_steps!r}, three_phase={self.three_phase!r}"
                )
        # Derived once: phase() runs every optimizer step.
        object.__setattr__(self, "_phases", phases)
        object.__setattr__(self, "_lr_ends", [(p[2], p[3]) for p in phases])
        object.__setattr__(self, "_spans", [(p[0], p[1]) for p in phases])
        object.__setattr__(self, "_momentum_highs", [(p[4] == "max", p[5] == "max") for p in phases])
        object.__setattr__(self, "_anneal", _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear)

    @property
    def initial_lr(self) -> float:
        return self.max_lr / self.div_factor

    @property
    def min_lr(self) -> float:
        return self.initial_lr / self.final_div_factor

    @property
    def phase_spans(self) -> list[tuple[float, float]]:
        """``(start_step, end_step)`` of each phase, PyTorch's boundaries."""
        return list(self._spans)  # type: ignore[attr-defined]

    def phase_values(self, momentum: tuple[float, float] | None = None) -> list[tuple[float, float]]:
        """``(value at the start, value at the end)`` of each phase: the LR, or the momentum for
        ``momentum=(base_momentum, max_momentum)`` (high where the LR is low)."""
        if momentum is None:
            return list(self._lr_ends)  # type: ignore[attr-defined]
        base, high = momentum
        highs = self._momentum_highs  # type: ignore[attr-defined]
        return [(high if starts_high else base, high if ends_high else base) for starts_high, ends_high in highs]

    def _phase_table(self) -> tuple[tuple[float, float, float, float, str, str], ...]:
        """(start_step, end_step, start_lr, end_lr, start_momentum, end_momentum) per phase, as in PyTorch."""
        initial, peak, low = self.initial_lr, self.max_lr, self.min_lr
        warmup_end = float(self.pct_start * self.total_steps) - 1
        last = float(self.total_steps - 1)
        if self.three_phase:
            down_end = float(2 * self.pct_start * self.total_steps) - 2
            return (
                (0.0, warmup_end, initial, peak, "max", "base"),
                (warmup_end, down_end, peak, initial, "base", "max"),
                (down_end, last, initial, low, "max", "max"),
            )
        return ((0.0, warmup_end, initial, peak, "max", "base"), (warmup_end, last, peak, low, "base", "max"))

    def __call__(self, iteration: Iterations) -> Any:
        """The learning rate at ``iteration`` (0 to ``total_steps``)."""
        return self.lr_from_phase(*self.phase(iteration))

    def momentum(self, iteration: Iterations, base_momentum: float = 0.85, max_momentum: float = 0.95) -> Any:
        """Momentum (or beta1) cycled opposite to the LR, as PyTorch's OneCycleLR does."""
        check_momentum_bounds(base_momentum, max_momentum)
        return self.momentum_from_phase(*self.phase(iteration), base_momentum, max_momentum)

    def phase(self, iteration: Iterations) -> tuple[Any, Any]:
        """``(phase index, fraction of that phase done)`` at ``iteration``."""
        phases = self._phases  # type: ignore[attr-defined]
        if type(iteration) is int or _is_scalar(iteration):
            step = iteration if type(iteration) is int and iteration >= 0 else _scalar_iteration(iteration)
            if step > self.total_steps:
                self._check_step(step)
            for i, (start, end) in enumerate(self._spans):  # type: ignore[attr-defined]
                if step <= end:
                    return i, (step - start) / (end - start)
            start, end = self._spans[-1]  # type: ignore[attr-defined]
            return len(phases) - 1, (step - start) / (end - start)  # past the end: extrapolated, as in PyTorch
        np = _numpy()
        steps = _array_iteration(iteration)
        if steps.size:
            self._check_step(float(steps.max()))
        index = np.full(steps.shape, len(phases) - 1)
        for i in reversed(range(len(phases) - 1)):
            index = np.where(steps <= phases[i][1], i, index)
        starts = np.array([p[0] for p in phases])[index]
        ends = np.array([p[1] for p in phases])[index]
        return index, (steps - starts) / (ends - starts)

    def lr_from_phase(self, index: Any, pct: Any) -> Any:
        """The LR for a :meth:`phase` result."""
        if type(index) is int:
            start, end = self._lr_ends[index]  # type: ignore[attr-defined]
            return self._anneal(start, end, pct, math.cos)  # type: ignore[attr-defined]
        return self._interpolate(index, pct, self._lr_ends)  # type: ignore[attr-defined]

    def momentum_from_phase(self, index: Any, pct: Any, base_momentum: float, max_momentum: float) -> Any:
        """The momentum for a :meth:`phase` result: high when the LR is low."""
        if type(index) is int:
            starts_high, ends_high = self._momentum_highs[index]  # type: ignore[attr-defined]
            first = max_momentum if starts_high else base_momentum
            last = max_momentum if ends_high else base_momentum
            return self._anneal(first, last, pct, math.cos)  # type: ignore[attr-defined]
        return self._interpolate(index, pct, self.phase_values((base_momentum, max_momentum)))

    def _interpolate(self, index: Any, pct: Any, ends: list[tuple[float, float]]) -> Any:
        """The array path of :meth:`lr_from_phase` / :meth:`momentum_from_phase`."""
        anneal = self._anneal  # type: ignore[attr-defined]
        np = _numpy()
        table = np.array(ends, dtype=np.float64)
        return anneal(table[index, 0], table[index, 1], pct, np.cos)

    def _check_step(self, step: float) -> float:
        if step > self.total_steps:
            raise ValueError(f"iteration must be <= total_steps={self.total_steps}, got iteration={step!r}")
        return step


def _anneal_cos(start: float, end: float, pct: Any, cos: Callable[[Any], Any]) -> Any:
    return end + (start - end) / 2.0 * (cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: Any, cos: Callable[[Any], Any]) -> Any:
    return (end - start) * pct + start


@dataclasses.dataclass(frozen=True)
class RangeSweep(_Serialisable):
    """The LR range test's ramp: ``start_lr`` at step 0 to ``end_lr`` at step ``num_iter - 1``.

    ``step_mode="linear"`` is the paper's sweep; ``"exp"`` spaces the LRs evenly
    on a log scale, for a first coarse look over several decades.
    """

    kind: ClassVar[str] = "range_sweep"

    start_lr: float
    end_lr: float
    num_iter: int
    step_mode: Literal["linear", "exp"] = "linear"

    def __post_init__(self) -> None:
        check.choice("step_mode", self.step_mode, STEP_MODES)
        start = check.non_negative("start_lr", self.start_lr)
        end = check.positive("end_lr", self.end_lr)
        if self.step_mode == "exp" and start <= 0:
            raise ValueError(f"start_lr must be > 0 for step_mode='exp', got start_lr={self.start_lr!r}")
        if end <= start:
            raise ValueError(f"end_lr must be > start_lr, got start_lr={self.start_lr!r}, end_lr={self.end_lr!r}")
        check.positive_int("num_iter", self.num_iter)

    def __call__(self, iteration: Iterations) -> Any:
        """The LR at step ``iteration`` (0 to ``num_iter - 1``)."""
        if _is_scalar(iteration):
            frac = self._fraction(_scalar_iteration(iteration))
        else:
            its = _array_iteration(iteration)
            if its.size:
                self._fraction(float(its.max()))
            frac = its / (self.num_iter - 1) if self.num_iter > 1 else its * 0.0 + 1.0
        if self.step_mode == "linear":
            return self.start_lr + (self.end_lr - self.start_lr) * frac
        return self.start_lr * (self.end_lr / self.start_lr) ** frac

    def _fraction(self, it: float) -> float:
        if it > self.num_iter - 1:
            raise ValueError(f"iteration must be <= num_iter - 1 = {self.num_iter - 1}, got iteration={it!r}")
        return it / (self.num_iter - 1) if self.num_iter > 1 else 1.0


Schedule = Union[CyclicSchedule, OneCycleSchedule, RangeSweep]
_KINDS: dict[str, type[_Serialisable]] = {cls.kind: cls for cls in (CyclicSchedule, OneCycleSchedule, RangeSweep)}


def schedule_from_dict(data: Mapping[str, Any]) -> Schedule:
    """Rebuild any schedule from its :meth:`to_dict` form, chosen by ``data["type"]``.

    Raises:
        TypeError: ``data`` is not a dict, or a field has the wrong type.
        ValueError: an unknown ``type``, bad fields, or an unregistered scale function.

    Example:
        >>> import cyclr
        >>> cyclr.schedule_from_dict({"type": "range_sweep", "start_lr": 0.0, "end_lr": 1.0, "num_iter": 5})
        RangeSweep(start_lr=0.0, end_lr=1.0, num_iter=5, step_mode='linear')
    """
    _check_mapping("data", data)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"data['type'] must be one of {sorted(_KINDS)}, got {_short(kind)}")
    return _KINDS[kind].from_dict(data)  # type: ignore[no-any-return]


def _check_mapping(name: str, data: Any) -> None:
    if not isinstance(data, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(data).__name__} {_short(data)}")
    for key in data:
        if not isinstance(key, str):
            raise TypeError(f"{name} must have string keys, got key {_short(key)}")


# JSON can spell integers no float holds; the schedules compute in floats.
_MAX_MAGNITUDE = 2**1023


def _checked_fields(cls: type[_Serialisable], data: Any) -> dict[str, Any]:
    """``data`` without its ``type``, checked to name exactly ``cls``'s fields; ValueError/TypeError if not."""
    _check_mapping("data", data)
    fields = dict(data)
    kind = fields.pop("type", cls.kind)
    if kind != cls.kind:
        raise ValueError(f"data describes a {_short(kind)}, not a {cls.kind!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ValueError(f"data has fields {_short(unknown)} that {cls.__name__} does not take")
    missing = [name for name, f in known.items() if name not in fields and _required(f)]
    if missing:
        raise ValueError(f"data is missing the fields {missing} of {cls.__name__}")
    for name, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_MAGNITUDE:
            raise ValueError(f"{name} is too large, got {name}={_short(value)}")
    return fields


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


# --- the paper's rules of thumb ---------------------------------------------


def recommended_step_size(iterations_per_epoch: int, epochs_per_step: float = 4.0) -> int:
    """Half-cycle length in iterations: ``epochs_per_step`` epochs' worth.

    The paper sets ``step_size`` to 2-10 times the iterations in an epoch and
    found 4-8 epochs a little better than 2; 4 is the default.
    """
    ipe = check.positive_int("iterations_per_epoch", iterations_per_epoch)
    epochs = check.positive("epochs_per_step", epochs_per_step)
    return max(1, round(ipe * epochs))


def cycle_aligned_iterations(budget: int, step_size_up: float, step_size_down: float | None = None) -> int:
    """The most iterations within ``budget`` that end on a cycle end (LR back at base_lr).

    The paper stops training at the end of a cycle, when the LR is at its
    minimum and accuracy peaks.
    """
    budget = check.positive_int("budget", budget)
    up = check.positive("step_size_up", step_size_up)
    down = up if step_size_down is None else check.positive("step_size_down", step_size_down)
    cycle = up + down
    if budget < cycle:
        raise ValueError(f"budget must cover at least one cycle of {cycle:g} iterations, got budget={budget}")
    # With fractional step sizes only some multiples of the cycle are whole iterations.
    for cycles in range(math.floor(budget / cycle), 0, -1):
        total = cycles * cycle
        if abs(total - round(total)) <= 1e-9 * total:
            return round(total)
    raise ValueError(
        f"no whole number of cycles of {cycle:g} iterations ends on a whole iteration within budget={budget}"
    )


def base_lr_from_max_lr(max_lr: float, divisor: float = 4.0) -> float:
    """``max_lr / divisor``: the paper's rule that base_lr = 1/3 to 1/4 of max_lr works."""
    max_lr = check.positive("max_lr", max_lr)
    divisor = check.real("divisor", divisor)
    if divisor <= 1:
        raise ValueError(f"divisor must be > 1, got divisor={divisor!r}")
    return max_lr / divisor
