"""Learning-rate schedules as pure functions of the iteration.

Every schedule is a frozen dataclass: ``sched(iteration) -> lr``, where the
iteration counts optimizer updates from 0. A Python number gives a float; a
sequence or numpy array gives a numpy array (numpy is imported only then, so
``import cyclr`` stays light). The arithmetic follows PyTorch's ``CyclicLR`` and
``OneCycleLR`` operation by operation, so the scalar path is bit-identical. The
formulas themselves live in :mod:`cyclr._formulas`, shared with the traced
schedules of the Keras and optax adapters.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186

    Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
    https://arxiv.org/abs/1803.09820
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union, get_args

from . import _formulas
from . import _validate as check
from ._formulas import SCALAR_OPS, ArrayOps, numpy_ops
from .scale import ScaleFn, _short, scale_fn_from_ref, scale_fn_to_ref

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    Iterations = Union[int, float, ArrayLike]
else:
    Iterations = Any

CyclicMode = Literal["triangular", "triangular2", "exp_range"]
"""The paper's three policies: constant amplitude, halved each cycle, or times ``gamma**iteration``."""
ScaleMode = Literal["cycle", "iterations"]
"""What a scale function reads: the cycle number (from 1) or the iteration (from 0)."""
WaveShape = Literal["triangular", "welch", "hann"]
"""The cyclic wave: the paper's triangle, a parabola (Welch window) or a raised cosine (Hann window)."""
AnnealStrategy = Literal["cos", "linear"]
"""How 1cycle anneals within a phase."""
StepMode = Literal["linear", "exp"]
"""How the range test's sweep spaces its LRs."""

MODES: tuple[str, ...] = get_args(CyclicMode)
SCALE_MODES: tuple[str, ...] = get_args(ScaleMode)
SHAPES: tuple[str, ...] = get_args(WaveShape)
ANNEAL_STRATEGIES: tuple[str, ...] = get_args(AnnealStrategy)
STEP_MODES: tuple[str, ...] = get_args(StepMode)

# PyTorch's default momentum bounds, cycled opposite to the LR.
CYCLIC_BASE_MOMENTUM = 0.8
CYCLIC_MAX_MOMENTUM = 0.9
ONE_CYCLE_BASE_MOMENTUM = 0.85
ONE_CYCLE_MAX_MOMENTUM = 0.95

# The key that names a schedule's kind in to_dict(); files written before it was renamed use "type".
KIND_KEY = "kind"
_LEGACY_KIND_KEY = "type"


def check_momentum_bounds(base_momentum: Any, max_momentum: Any) -> None:
    """Check momentum bounds: finite real numbers, any pair PyTorch accepts.

    A bound outside [0, 1], or ``base_momentum > max_momentum`` (the momentum
    then rises with the LR), is most likely a mistake and warns.

    Args:
        base_momentum: the momentum at the LR's peak.
        max_momentum: the momentum where the LR is lowest.

    Raises:
        TypeError: a bound is not a real number.
        ValueError: a bound is not finite, or ``max_momentum - base_momentum`` overflows.

    Examples:
        >>> from cyclr.schedules import check_momentum_bounds
        >>> check_momentum_bounds(0.85, 0.95)
        >>> check_momentum_bounds(0.85, float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: max_momentum must be finite, got max_momentum=nan
    """
    base = check.real("base_momentum", base_momentum)
    high = check.real("max_momentum", max_momentum)
    check.finite_span("base_momentum", base, "max_momentum", high)
    for name, value in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
        if not 0.0 <= float(value) <= 1.0:
            check.caution(f"{name}={value!r} is outside [0, 1]; momentum and beta1 are fractions")
    if base > high:
        check.caution(
            f"base_momentum={base_momentum!r} is above max_momentum={max_momentum!r}: the momentum rises with the LR"
        )


def _finite(what: str, value: Any, iteration: Any) -> Any:
    """``value`` unchanged if every element is finite, else ValueError naming the iteration."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        bad = iteration
    else:
        np = _numpy()
        ok = np.isfinite(np.asarray(value, dtype=np.float64))
        if ok.all():
            return value
        its = np.broadcast_to(np.asarray(iteration), ok.shape)
        bad = its[~ok].ravel()[0].item()
    raise ValueError(f"the {what} overflows to a non-finite value at iteration={bad!r}")


def _overflow(iteration: Any, err: ArithmeticError) -> ValueError:
    return ValueError(f"iteration={iteration!r} is out of this schedule's numeric range ({err})")


def _numpy() -> Any:
    import numpy

    return numpy


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) or getattr(value, "ndim", None) == 0


def _scalar_iteration(value: Any) -> int | float:
    if isinstance(value, bool) or not check._is_real(value):
        raise TypeError(f"iteration must be a real number, got {value!r} ({type(value).__name__})")
    if hasattr(value, "__index__"):
        whole = int(value)
        if whole < 0:
            raise ValueError(f"iteration must be a finite number >= 0, got iteration={value!r}")
        return whole
    it = float(value)
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
        """A JSON-able dict that :func:`schedule_from_dict` turns back into an equal schedule.

        Returns:
            The schedule's kind under ``"kind"`` and its fields; a custom
            ``scale_fn`` by its registered name (see :func:`cyclr.register_scale_fn`).

        Raises:
            TypeError: the ``scale_fn`` is not registered, so it could not be loaded back.

        Examples:
            >>> import cyclr
            >>> cyclr.RangeSweep(0.0, 1.0, 5).to_dict()
            {'kind': 'range_sweep', 'start_lr': 0.0, 'end_lr': 1.0, 'num_iter': 5, 'step_mode': 'linear'}
        """
        out: dict[str, Any] = {KIND_KEY: self.kind}
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
        by registered name only (see :func:`cyclr.register_scale_fn`). Dicts
        saved by earlier versions, which name the kind under ``"type"``, load too.

        Args:
            data: the output of :meth:`to_dict`, e.g. read back from JSON.

        Returns:
            An equal schedule of this class.

        Raises:
            TypeError: ``data`` is not a dict, or a field has the wrong type.
            ValueError: a field is unknown, missing or out of range, or the scale function is not registered.

        Examples:
            >>> import cyclr
            >>> cyclr.RangeSweep.from_dict({"type": "range_sweep", "start_lr": 0.0, "end_lr": 1.0, "num_iter": 5})
            RangeSweep(start_lr=0.0, end_lr=1.0, num_iter=5, step_mode='linear')
        """
        fields = _checked_fields(cls, data)
        if fields.get("scale_fn") is not None:
            fields["scale_fn"] = scale_fn_from_ref(fields["scale_fn"])
        return cls(**fields)


_NO_ITERATION: Any = object()


@dataclasses.dataclass(frozen=True)
class CyclicSchedule(_Serialisable):
    """The paper's cyclical learning rate: ``base_lr`` -> ``max_lr`` -> ``base_lr``, repeated.

    Args:
        base_lr: lower bound, the LR at iteration 0 and at every cycle end.
        max_lr: upper bound, reached ``step_size_up`` iterations into a cycle
            (times the scale of the cycle).
        step_size_up: iterations of the rising half of a cycle.
        step_size_down: iterations of the falling half; None means ``step_size_up``
            (a symmetric cycle).
        mode: ``"triangular"`` (constant amplitude), ``"triangular2"`` (halved
            each cycle) or ``"exp_range"`` (times ``gamma**iteration``).
        gamma: decay of ``exp_range``, in (0, 1].
        scale_fn: custom amplitude scale; overrides ``mode`` (then not checked) as in PyTorch.
        scale_mode: ``scale_fn`` takes the cycle number (``"cycle"``) or the
            iteration (``"iterations"``). Set by ``mode`` when ``scale_fn`` is None.
        shape: the wave: ``"triangular"`` (the paper's), ``"welch"`` (parabolic)
            or ``"hann"`` (sinusoidal); all three share bounds and period.

    Raises:
        TypeError: an argument is not a number, or ``scale_fn`` is not callable.
        ValueError: a bound is not finite, a step size gives no cycle, or an
            option is not one of its choices.

    Examples:
        >>> from cyclr import CyclicSchedule
        >>> sched = CyclicSchedule(0.001, 0.006, step_size_up=4, mode="triangular2")
        >>> tuple(round(sched(i), 6) for i in (0, 2, 4, 8, 12))
        (0.001, 0.0035, 0.006, 0.001, 0.0035)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    kind: ClassVar[str] = "cyclic"
    default_momentum: ClassVar[tuple[float, float]] = (CYCLIC_BASE_MOMENTUM, CYCLIC_MAX_MOMENTUM)

    base_lr: float
    max_lr: float
    step_size_up: float = 2000
    step_size_down: float | None = None
    mode: CyclicMode = "triangular"
    gamma: float = 1.0
    scale_fn: ScaleFn | None = None
    scale_mode: ScaleMode = "cycle"
    shape: WaveShape = "triangular"

    def __post_init__(self) -> None:
        self._check_bounds()
        total, ratio = self._cycle_size()
        gamma = check.real("gamma", self.gamma)
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
            if self.mode == "exp_range" and not 0.0 < gamma <= 1.0:
                check.caution(
                    f"gamma={self.gamma!r} is outside (0, 1]: mode='exp_range' scales the amplitude by gamma**iteration"
                )
        # Derived once: wave() runs every optimizer step.
        object.__setattr__(self, "_total_size", total)
        object.__setattr__(self, "_step_ratio", ratio)

    def _check_bounds(self) -> None:
        """Any finite bounds, as PyTorch; negative or inverted ones warn."""
        base_lr = check.real("base_lr", self.base_lr)
        max_lr = check.real("max_lr", self.max_lr)
        check.finite_span("base_lr", base_lr, "max_lr", max_lr)
        for name, value in (("base_lr", self.base_lr), ("max_lr", self.max_lr)):
            if float(value) < 0:
                check.caution(f"{name}={value!r} is a negative learning rate", stacklevel=5)
        if max_lr < base_lr:
            check.caution(
                f"max_lr={self.max_lr!r} is below base_lr={self.base_lr!r}: the LR falls first in every cycle",
                stacklevel=5,
            )

    def _cycle_size(self) -> tuple[float, float]:
        """``(total_size, step_ratio)`` computed as PyTorch does; the sizes PyTorch divides by zero on raise."""
        up = check.nonzero("step_size_up", self.step_size_up)
        down = up if self.step_size_down is None else check.real("step_size_down", self.step_size_down)
        sizes = f"step_size_up={self.step_size_up!r}, step_size_down={self.step_size_down!r}"
        total = up + down
        if not math.isfinite(total) or total == 0:
            raise ValueError(f"step_size_up + step_size_down must be finite and nonzero, got {sizes}")
        ratio = up / total
        if ratio == 0:
            raise ValueError(f"step_size_up is too small next to step_size_down for a rising half, got {sizes}")
        if up < 0 or down < 0:
            check.caution(f"a negative step size runs the cycle backwards, got {sizes}", stacklevel=6)
        return total, ratio

    @property
    def total_size(self) -> float:
        """Iterations in one full cycle: ``step_size_up + step_size_down``."""
        return self._total_size  # type: ignore[attr-defined,no-any-return]

    @property
    def step_ratio(self) -> float:
        """Fraction of a cycle spent rising."""
        return self._step_ratio  # type: ignore[attr-defined,no-any-return]

    def __call__(self, iteration: Iterations) -> Any:
        """The learning rate at ``iteration``.

        Args:
            iteration: optimizer updates done so far (0 for the first), a number or an array of them.

        Returns:
            A float, or a numpy array for array input.

        Raises:
            TypeError: ``iteration`` is not a number or an array of numbers.
            ValueError: ``iteration`` is negative or not finite, or the LR overflows there.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> sched = CyclicSchedule(0.1, 0.5, step_size_up=4)
            >>> sched(4)
            0.5
            >>> sched([0, 2, 4, 6, 8]).round(6).tolist()
            [0.1, 0.3, 0.5, 0.3, 0.1]
        """
        position, scale = self.wave(iteration)
        try:
            return _finite("learning rate", self.lr_from_wave(position, scale), iteration)
        except OverflowError as err:  # a custom scale_fn's integer past the float range
            raise _overflow(iteration, err) from None

    def momentum(
        self,
        iteration: Iterations,
        base_momentum: float = CYCLIC_BASE_MOMENTUM,
        max_momentum: float = CYCLIC_MAX_MOMENTUM,
    ) -> Any:
        """Momentum (or Adam's beta1) cycled opposite to the LR, as PyTorch's CyclicLR does.

        Args:
            iteration: optimizer updates done so far, a number or an array of them.
            base_momentum: the momentum at the LR's peak (PyTorch's default, 0.8).
            max_momentum: the momentum where the LR is at ``base_lr`` (PyTorch's default, 0.9).

        Returns:
            A float, or a numpy array for array input.

        Raises:
            TypeError: ``iteration`` or a bound is not a number.
            ValueError: ``iteration`` is negative or not finite, or a bound is not finite.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> tuple(round(CyclicSchedule(0.1, 0.5, step_size_up=4).momentum(i), 6) for i in (0, 2, 4))
            (0.9, 0.85, 0.8)
        """
        check_momentum_bounds(base_momentum, max_momentum)
        position, scale = self.wave(iteration)
        try:
            value = self.momentum_from_wave(position, scale, base_momentum, max_momentum)
        except OverflowError as err:
            raise _overflow(iteration, err) from None
        return _finite("momentum", value, iteration)

    def lr_from_wave(self, position: Any, scale: Any) -> Any:
        """The LR for a :meth:`wave` result (lets several bounds share one wave).

        Args:
            position: where in the cycle, 0 at the bounds and 1 at the peak.
            scale: the amplitude factor of the cycle.

        Returns:
            ``base_lr + (max_lr - base_lr) * position * scale``, of the type of ``position``.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> CyclicSchedule(0.1, 0.5).lr_from_wave(0.5, 0.5)
            0.2
        """
        return _formulas.lr_from_wave(self.base_lr, self.max_lr, position, scale)

    @staticmethod
    def momentum_from_wave(position: Any, scale: Any, base_momentum: float, max_momentum: float) -> Any:
        """The momentum for a :meth:`wave` result: high when the LR is low.

        Args:
            position: where in the cycle, 0 at the bounds and 1 at the peak.
            scale: the amplitude factor of the cycle.
            base_momentum: the momentum at the full peak.
            max_momentum: the momentum at the bounds.

        Returns:
            ``max_momentum - (max_momentum - base_momentum) * position * scale``.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> CyclicSchedule.momentum_from_wave(1.0, 1.0, 0.8, 0.9)
            0.8
        """
        return _formulas.momentum_from_wave(position, scale, base_momentum, max_momentum)

    def wave(self, iteration: Iterations) -> tuple[Any, Any]:
        """Where in the cycle ``iteration`` falls, and the cycle's amplitude.

        Args:
            iteration: optimizer updates done so far, a number or an array of them.

        Returns:
            ``(position, scale)``: the shaped position (0 at the bounds, 1 at
            the peak) and the amplitude factor, floats or numpy arrays.

        Raises:
            TypeError: ``iteration`` is not a number or an array of numbers.
            ValueError: ``iteration`` is negative or not finite, or out of the numeric range.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> CyclicSchedule(0.1, 0.5, step_size_up=4, mode="triangular2").wave(10)
            (0.5, 0.5)
        """
        if type(iteration) is int or _is_scalar(iteration):
            it = iteration if type(iteration) is int and iteration >= 0 else _scalar_iteration(iteration)
            try:
                return self._scalar_wave(it)
            except (OverflowError, ZeroDivisionError) as err:
                raise _overflow(iteration, err) from None
        return self._array_wave(iteration)

    def _scalar_wave(self, it: int | float) -> tuple[float, float]:
        """PyTorch's arithmetic, operation by operation."""
        total = self._total_size  # type: ignore[attr-defined]
        cycle = math.floor(1 + it / total)
        x = 1.0 + it / total - cycle
        ratio = self._step_ratio  # type: ignore[attr-defined]
        position = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        return _formulas.shaped(position, self.shape, SCALAR_OPS), self._scale(cycle, it, SCALAR_OPS)

    def _array_wave(self, iteration: Any) -> tuple[Any, Any]:
        """The scalar arithmetic over a numpy array."""
        np = _numpy()
        its = _array_iteration(iteration)
        cycles = np.floor(1 + its / self.total_size)
        x = 1.0 + its / self.total_size - cycles
        ratio = self.step_ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            positions = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        positions = _formulas.shaped(positions, self.shape, numpy_ops())
        if self.scale_fn is not None:
            return positions, self._custom_scale_array(cycles, its, iteration)
        return positions, self._scale(cycles, its, numpy_ops())

    def cycle(self, iteration: Iterations) -> Any:
        """Cycle number (1, 2, ...) at ``iteration``.

        Args:
            iteration: optimizer updates done so far, a number or an array of them.

        Returns:
            An int, or a numpy int64 array for array input.

        Raises:
            TypeError: ``iteration`` is not a number or an array of numbers.
            ValueError: ``iteration`` is negative, not finite or out of the numeric range.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> CyclicSchedule(0.1, 0.5, step_size_up=4).cycle(8)
            2
        """
        if _is_scalar(iteration):
            try:
                return math.floor(1 + _scalar_iteration(iteration) / self.total_size)
            except OverflowError as err:
                raise _overflow(iteration, err) from None
        np = _numpy()
        return np.floor(1 + _array_iteration(iteration) / self.total_size).astype(np.int64)

    def scale_at(self, x: int | float, iteration: Any = _NO_ITERATION) -> Any:
        """The amplitude factor at ``x``, PyTorch's ``scale_fn(x)``: 1.0 throughout for ``triangular``.

        Args:
            x: what the scale reads (see ``scale_mode``): the cycle number, or
                the iteration for ``exp_range`` and ``scale_mode="iterations"``.
            iteration: deprecated; the old two-argument form ``scale_at(cycle, iteration)``,
                which reads the one of the two that ``scale_mode`` names.

        Returns:
            The factor that multiplies the cycle's amplitude ``max_lr - base_lr``.

        Raises:
            ValueError: a negative ``gamma`` with a fractional iteration.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> CyclicSchedule(0.1, 0.5, mode="triangular2").scale_at(3)
            0.25
            >>> CyclicSchedule(0.1, 0.5, mode="exp_range", gamma=0.5).scale_at(2)
            0.25
        """
        if iteration is not _NO_ITERATION:
            warnings.warn(
                "scale_at(cycle, iteration) is deprecated: pass only what scale_mode names, "
                "scale_at(cycle) or scale_at(iteration)",
                DeprecationWarning,
                stacklevel=2,
            )
            return self._scale(x, iteration, SCALAR_OPS)
        return self._scale(x, x, SCALAR_OPS)

    def _scale(self, cycle: Any, it: Any, ops: ArrayOps) -> Any:
        """The amplitude factor in ``ops``: of ``cycle`` or of ``it``, as ``scale_mode`` says."""
        x = cycle if self.scale_mode == "cycle" else it
        if self.scale_fn is not None:
            return self.scale_fn(x)
        return _formulas.amplitude(self.mode, self.gamma, x, ops)

    def _custom_scale_array(self, cycles: np.ndarray, its: np.ndarray, raw: Any) -> Any:
        """``scale_fn`` over arrays; a scalar-only function (``math.*``, if/else) point by point."""
        np = _numpy()
        args = cycles if self.scale_mode == "cycle" else its
        try:
            values = np.asarray(self.scale_fn(args), dtype=np.float64)  # type: ignore[misc]
            if values.shape == args.shape:
                return values
        except Exception:  # a scalar-only function: evaluate point by point
            pass
        scalars = args.astype(np.int64) if self.scale_mode == "cycle" else np.asarray(raw)
        points = [self.scale_fn(v) for v in scalars.ravel().tolist()]  # type: ignore[misc]
        return np.array(points, dtype=np.float64).reshape(args.shape)


@dataclasses.dataclass(frozen=True)
class OneCycleSchedule(_Serialisable):
    """Smith's 1cycle policy, with the semantics of PyTorch's ``OneCycleLR``.

    The LR warms up from ``max_lr / div_factor`` to ``max_lr`` over
    ``pct_start * total_steps`` steps, then anneals to
    ``max_lr / div_factor / final_div_factor``. With ``three_phase`` it first
    comes back down symmetrically to the initial LR, then anneals.

    It accepts what PyTorch accepts: ``pct_start=0.0`` or ``1.0``, phases
    shorter than a step (they are skipped), ``three_phase`` as 0 or 1, and
    negative factors (with a warning). A configuration PyTorch divides by zero
    on raises ValueError here: when it is built if step 0 is affected
    (``pct_start * total_steps == 1``), otherwise at the iteration affected.

    Args:
        max_lr: the peak LR, reached at the end of the warm-up.
        total_steps: optimizer updates in the whole run.
        pct_start: fraction of ``total_steps`` spent warming up.
        anneal_strategy: ``"cos"`` (cosine) or ``"linear"`` annealing within each phase.
        div_factor: the initial LR is ``max_lr / div_factor``.
        final_div_factor: the last LR is ``initial_lr / final_div_factor``.
        three_phase: come back down to the initial LR before the final anneal
            (the shape of Smith's papers) instead of annealing straight down.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, or the warm-up would last zero steps.

    Examples:
        >>> from cyclr import OneCycleSchedule
        >>> sched = OneCycleSchedule(0.1, total_steps=10, pct_start=0.3, anneal_strategy="linear")
        >>> tuple(round(sched(i), 6) for i in (0, 2))
        (0.004, 0.1)
        >>> f"{sched(9):.1e}"  # min_lr: max_lr / div_factor / final_div_factor
        '4.0e-07'

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        https://arxiv.org/abs/1803.09820

        Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks
        Using Large Learning Rates", https://arxiv.org/abs/1708.07120
    """

    kind: ClassVar[str] = "one_cycle"
    default_momentum: ClassVar[tuple[float, float]] = (ONE_CYCLE_BASE_MOMENTUM, ONE_CYCLE_MAX_MOMENTUM)

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: AnnealStrategy = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        max_lr = check.real("max_lr", self.max_lr)
        total = check.positive_int("total_steps", self.total_steps)
        if total > sys.float_info.max / 2:  # its phase boundaries are floats, as in PyTorch
            raise ValueError(f"total_steps must be a float-sized count (below 1e308), got a {len(str(total))}-digit "
                             "total_steps")
        check.in_range("pct_start", self.pct_start, 0.0, 1.0)
        check.choice("anneal_strategy", self.anneal_strategy, ANNEAL_STRATEGIES)
        div = check.nonzero("div_factor", self.div_factor)
        final = check.nonzero("final_div_factor", self.final_div_factor)
        object.__setattr__(self, "three_phase", check.flag("three_phase", self.three_phase))
        for name, value in (("max_lr", max_lr), ("div_factor", div), ("final_div_factor", final)):
            if value < 0:
                check.caution(f"{name}={value!r} is negative: the 1cycle LRs change sign", stacklevel=4)
        self._check_lrs()
        phases = self._phase_table()
        if phases[0][1] == phases[0][0]:
            raise ValueError(
                "pct_start * total_steps must not be 1: the warm-up would last zero steps, got "
                f"pct_start={self.pct_start!r}, total_steps={self.total_steps!r}"
            )
        # Derived once: phase() runs every optimizer step.
        object.__setattr__(self, "_phases", phases)
        object.__setattr__(self, "_lr_ends", [(p[2], p[3]) for p in phases])
        object.__setattr__(self, "_spans", [(p[0], p[1]) for p in phases])
        object.__setattr__(self, "_momentum_highs", [(p[4] == "max", p[5] == "max") for p in phases])
        object.__setattr__(self, "_anneal", _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear)

    def _check_lrs(self) -> None:
        """The initial and final LRs, and the distances annealed between them, must be finite."""
        factors = f"max_lr={self.max_lr!r}, div_factor={self.div_factor!r}, final_div_factor={self.final_div_factor!r}"
        if not math.isfinite(self.initial_lr):
            raise ValueError(f"max_lr / div_factor must be finite, got {factors}")
        if not math.isfinite(self.min_lr):
            raise ValueError(f"max_lr / div_factor / final_div_factor must be finite, got {factors}")
        for low, high in ((self.initial_lr, float(self.max_lr)), (self.min_lr, float(self.max_lr))):
            if not math.isfinite(high - low):
                raise ValueError(f"the range between the 1cycle LRs overflows, got {factors}")

    @property
    def initial_lr(self) -> float:
        """The LR at step 0: ``max_lr / div_factor``.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(0.1, total_steps=10).initial_lr
            0.004
        """
        return self.max_lr / self.div_factor

    @property
    def min_lr(self) -> float:
        """The LR at the last step: ``initial_lr / final_div_factor``."""
        return self.initial_lr / self.final_div_factor

    @property
    def phase_spans(self) -> list[tuple[float, float]]:
        """``(start_step, end_step)`` of each phase, PyTorch's boundaries.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(0.1, total_steps=10, pct_start=0.3).phase_spans
            [(0.0, 2.0), (2.0, 9.0)]
        """
        return list(self._spans)  # type: ignore[attr-defined]

    def phase_values(self, momentum: tuple[float, float] | None = None) -> list[tuple[float, float]]:
        """``(value at the start, value at the end)`` of each phase.

        Args:
            momentum: None for the LR, or ``(base_momentum, max_momentum)`` for
                the momentum (high where the LR is low).

        Returns:
            One ``(start, end)`` pair per phase.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(1.0, total_steps=10, div_factor=2.0, final_div_factor=4.0).phase_values()
            [(0.5, 1.0), (1.0, 0.125)]
            >>> OneCycleSchedule(1.0, total_steps=10).phase_values((0.85, 0.95))
            [(0.95, 0.85), (0.85, 0.95)]
        """
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
        """The learning rate at ``iteration`` (0 to ``total_steps``).

        ``total_steps - 1`` is the last step, at ``min_lr``; like PyTorch, the
        curve extends one step further to ``total_steps`` and raises after.

        Args:
            iteration: optimizer updates done so far, a number or an array of them.

        Returns:
            A float, or a numpy array for array input.

        Raises:
            TypeError: ``iteration`` is not a number or an array of numbers.
            ValueError: ``iteration`` is negative, not finite or past ``total_steps``.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(1.0, total_steps=10, pct_start=0.2, anneal_strategy="linear")(1)
            1.0
        """
        return _finite("learning rate", self.lr_from_phase(*self.phase(iteration)), iteration)

    def momentum(
        self,
        iteration: Iterations,
        base_momentum: float = ONE_CYCLE_BASE_MOMENTUM,
        max_momentum: float = ONE_CYCLE_MAX_MOMENTUM,
    ) -> Any:
        """Momentum (or beta1) cycled opposite to the LR, as PyTorch's OneCycleLR does.

        Args:
            iteration: optimizer updates done so far (0 to ``total_steps``), a number or an array.
            base_momentum: the momentum at the LR's peak (PyTorch's default, 0.85).
            max_momentum: the momentum where the LR is lowest (PyTorch's default, 0.95).

        Returns:
            A float, or a numpy array for array input.

        Raises:
            TypeError: ``iteration`` or a bound is not a number.
            ValueError: ``iteration`` is out of range, or a bound is not finite.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> sched = OneCycleSchedule(0.1, total_steps=10, pct_start=0.3)
            >>> tuple(round(sched.momentum(i), 6) for i in (0, 2, 9))
            (0.95, 0.85, 0.95)
        """
        check_momentum_bounds(base_momentum, max_momentum)
        value = self.momentum_from_phase(*self.phase(iteration), base_momentum, max_momentum)
        return _finite("momentum", value, iteration)

    def phase(self, iteration: Iterations) -> tuple[Any, Any]:
        """Which phase ``iteration`` falls in, and how far into it.

        Args:
            iteration: optimizer updates done so far, a number or an array of them.

        Returns:
            ``(phase index, fraction of that phase done)``: ints and floats, or numpy arrays.

        Raises:
            TypeError: ``iteration`` is not a number or an array of numbers.
            ValueError: ``iteration`` is out of range, or falls in a phase of zero steps.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(0.1, total_steps=10, pct_start=0.3).phase(4)
            (1, 0.2857142857142857)
        """
        if type(iteration) is int or _is_scalar(iteration):
            step = iteration if type(iteration) is int and iteration >= 0 else _scalar_iteration(iteration)
            return self._scalar_phase(step)
        return self._array_phase(iteration)

    def _scalar_phase(self, step: int | float) -> tuple[int, float]:
        """PyTorch's arithmetic, operation by operation."""
        if step > self.total_steps:
            self._check_step(step)
        spans = self._spans  # type: ignore[attr-defined]
        index = len(spans) - 1  # past the last phase's end: extrapolated, as in PyTorch
        for i, (_, end) in enumerate(spans):
            if step <= end:
                index = i
                break
        start, end = spans[index]
        if end == start:
            raise self._zero_phase(step)
        return index, (step - start) / (end - start)

    def _array_phase(self, iteration: Any) -> tuple[Any, Any]:
        """The scalar arithmetic over a numpy array."""
        phases = self._phases  # type: ignore[attr-defined]
        np = _numpy()
        steps = _array_iteration(iteration)
        if steps.size:
            self._check_step(float(steps.max()))
        index = np.full(steps.shape, len(phases) - 1)
        for i in reversed(range(len(phases) - 1)):
            index = np.where(steps <= phases[i][1], i, index)
        starts = np.array([p[0] for p in phases])[index]
        ends = np.array([p[1] for p in phases])[index]
        if (ends == starts).any():
            raise self._zero_phase(steps[ends == starts][0].item())
        return index, (steps - starts) / (ends - starts)

    def _zero_phase(self, step: float) -> ValueError:
        return ValueError(
            f"iteration={step!r} falls in a phase of zero steps, which has no LR (pct_start={self.pct_start!r}, "
            f"total_steps={self.total_steps!r}, three_phase={self.three_phase!r})"
        )

    def lr_from_phase(self, index: Any, pct: Any) -> Any:
        """The LR for a :meth:`phase` result.

        Args:
            index: the phase, an int or an array of them.
            pct: the fraction of the phase done.

        Returns:
            The LR, annealed between the phase's ends.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(1.0, total_steps=10, div_factor=2.0).lr_from_phase(0, 0.5)
            0.75
        """
        if type(index) is int:
            start, end = self._lr_ends[index]  # type: ignore[attr-defined]
            return self._anneal(start, end, pct, math.cos)  # type: ignore[attr-defined]
        return self._interpolate(index, pct, self._lr_ends)  # type: ignore[attr-defined]

    def momentum_from_phase(self, index: Any, pct: Any, base_momentum: float, max_momentum: float) -> Any:
        """The momentum for a :meth:`phase` result: high when the LR is low.

        Args:
            index: the phase, an int or an array of them.
            pct: the fraction of the phase done.
            base_momentum: the momentum at the LR's peak.
            max_momentum: the momentum where the LR is lowest.

        Returns:
            The momentum, annealed between the phase's ends.

        Examples:
            >>> from cyclr import OneCycleSchedule
            >>> OneCycleSchedule(1.0, total_steps=10).momentum_from_phase(0, 1.0, 0.5, 1.0)
            0.5
        """
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

    Args:
        start_lr: the LR at step 0 (> 0 for ``"exp"``).
        end_lr: the LR at the last step, above ``start_lr``.
        num_iter: steps in the sweep.
        step_mode: ``"linear"`` or ``"exp"``.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range.

    Examples:
        >>> from cyclr import RangeSweep
        >>> RangeSweep(1e-4, 1.0, 5, step_mode="exp")([0, 4]).tolist()
        [0.0001, 1.0]

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3, the LR range test)
    """

    kind: ClassVar[str] = "range_sweep"

    start_lr: float
    end_lr: float
    num_iter: int
    step_mode: StepMode = "linear"

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
        """The LR at step ``iteration`` (0 to ``num_iter - 1``).

        Args:
            iteration: the sweep's step, a number or an array of them.

        Returns:
            A float, or a numpy array for array input.

        Raises:
            TypeError: ``iteration`` is not a number or an array of numbers.
            ValueError: ``iteration`` is negative, not finite or past ``num_iter - 1``.

        Examples:
            >>> from cyclr import RangeSweep
            >>> RangeSweep(0.0, 0.02, 9)(4)
            0.01
        """
        if _is_scalar(iteration):
            frac = self._fraction(_scalar_iteration(iteration))
        else:
            its = _array_iteration(iteration)
            if its.size:
                self._fraction(float(its.max()))
            frac = its / self._last_step() if self.num_iter > 1 else its * 0.0 + 1.0
        if self.step_mode == "linear":
            return _finite("learning rate", self.start_lr + (self.end_lr - self.start_lr) * frac, iteration)
        ratio = self.end_lr / self.start_lr
        if math.isfinite(ratio):
            return _finite("learning rate", self.start_lr * ratio**frac, iteration)
        # end_lr / start_lr overflows: interpolate the logarithms instead
        low, high = math.log(self.start_lr), math.log(self.end_lr)
        exp = math.exp if isinstance(frac, float) else _numpy().exp
        return _finite("learning rate", exp(low + (high - low) * frac), iteration)

    def _last_step(self) -> float:
        """``num_iter - 1`` as a float (infinite past the float range, where every fraction is 0)."""
        try:
            return float(self.num_iter - 1)
        except OverflowError:
            return math.inf

    def _fraction(self, it: float) -> float:
        if it > self.num_iter - 1:
            raise ValueError(f"iteration must be <= num_iter - 1 = {self.num_iter - 1}, got iteration={it!r}")
        if self.num_iter == 1:
            return 1.0
        return it / (self.num_iter - 1) if isinstance(it, int) else it / self._last_step()


Schedule = Union[CyclicSchedule, OneCycleSchedule, RangeSweep]
CoreSchedule = Union[CyclicSchedule, OneCycleSchedule]
"""The schedules that the Keras and optax adapters compute."""
_KINDS: dict[str, type[_Serialisable]] = {cls.kind: cls for cls in (CyclicSchedule, OneCycleSchedule, RangeSweep)}


def schedule_from_dict(data: Mapping[str, Any]) -> Schedule:
    """Rebuild any schedule from its :meth:`to_dict` form, chosen by ``data["kind"]``.

    Dicts saved by earlier versions name the kind under ``"type"``; they load too.

    Args:
        data: the output of a schedule's ``to_dict()``, e.g. read back from JSON.

    Returns:
        An equal :class:`CyclicSchedule`, :class:`OneCycleSchedule` or :class:`RangeSweep`.

    Raises:
        TypeError: ``data`` is not a dict, or a field has the wrong type.
        ValueError: an unknown kind, bad fields, or an unregistered scale function.

    Examples:
        >>> import cyclr
        >>> cyclr.schedule_from_dict({"kind": "range_sweep", "start_lr": 0.0, "end_lr": 1.0, "num_iter": 5})
        RangeSweep(start_lr=0.0, end_lr=1.0, num_iter=5, step_mode='linear')
    """
    _check_mapping("data", data)
    key, kind = _stated_kind(data)
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"data[{key!r}] must be one of {sorted(_KINDS)}, got {_short(kind)}")
    return _KINDS[kind].from_dict(data)  # type: ignore[no-any-return]


def _stated_kind(data: Mapping[str, Any]) -> tuple[str, Any]:
    """``(key, kind)``: the kind ``data`` names, under ``"kind"`` or its earlier name ``"type"``."""
    if KIND_KEY in data and _LEGACY_KIND_KEY in data and data[KIND_KEY] != data[_LEGACY_KIND_KEY]:
        raise ValueError(
            f"data['kind'] and data['type'] (its earlier name) disagree: got {_short(data[KIND_KEY])} "
            f"and {_short(data[_LEGACY_KIND_KEY])}"
        )
    key = _LEGACY_KIND_KEY if _LEGACY_KIND_KEY in data and KIND_KEY not in data else KIND_KEY
    return key, data.get(key)


def _check_mapping(name: str, data: Any) -> None:
    if not isinstance(data, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(data).__name__} {_short(data)}")
    for key in data:
        if not isinstance(key, str):
            raise TypeError(f"{name} must have string keys, got key {_short(key)}")


# JSON can spell integers no float holds; the schedules compute in floats.
_MAX_MAGNITUDE = 2**1023


def _checked_fields(cls: type[_Serialisable], data: Any) -> dict[str, Any]:
    """``data`` without its kind, checked to name exactly ``cls``'s fields; ValueError/TypeError if not."""
    _check_mapping("data", data)
    key, kind = _stated_kind(data)
    fields = {name: value for name, value in data.items() if name not in (KIND_KEY, _LEGACY_KIND_KEY)}
    if key not in data:
        kind = cls.kind
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

    Args:
        iterations_per_epoch: optimizer updates in one epoch.
        epochs_per_step: epochs in each half cycle.

    Returns:
        The step size, at least 1.

    Raises:
        TypeError: ``iterations_per_epoch`` is not an integer.
        ValueError: an argument is not positive, or the product is not finite.

    Examples:
        >>> import cyclr
        >>> cyclr.recommended_step_size(100)
        400

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    ipe = check.positive_int("iterations_per_epoch", iterations_per_epoch)
    epochs = check.positive("epochs_per_step", epochs_per_step)
    try:
        return max(1, round(ipe * epochs))
    except OverflowError:
        raise ValueError(
            "iterations_per_epoch * epochs_per_step must be a finite number of iterations, got "
            f"iterations_per_epoch={iterations_per_epoch!r}, epochs_per_step={epochs_per_step!r}"
        ) from None


def cycle_aligned_iterations(budget: int, step_size_up: float, step_size_down: float | None = None) -> int:
    """The most iterations within ``budget`` that end on a cycle end (LR back at base_lr).

    The paper stops training at the end of a cycle, when the LR is at its
    minimum and accuracy peaks.

    Args:
        budget: the most iterations to train for.
        step_size_up: iterations of the rising half of a cycle.
        step_size_down: iterations of the falling half; None means ``step_size_up``.

    Returns:
        A whole number of cycles' worth of iterations, at most ``budget``.

    Raises:
        TypeError: ``budget`` is not an integer.
        ValueError: ``budget`` is shorter than a cycle, or no whole number of cycles ends on a whole iteration.

    Examples:
        >>> import cyclr
        >>> cyclr.cycle_aligned_iterations(2500, 400)
        2400

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    budget = check.positive_int("budget", budget)
    up = check.positive("step_size_up", step_size_up)
    down = up if step_size_down is None else check.positive("step_size_down", step_size_down)
    cycle = up + down
    if not math.isfinite(cycle):
        raise ValueError(f"step_size_up + step_size_down must be finite, got {up!r} + {down!r}")
    if budget < cycle:
        raise ValueError(f"budget must cover at least one cycle of {cycle:g} iterations, got budget={budget}")
    try:
        most = math.floor(budget / cycle)
    except OverflowError:
        raise ValueError(f"budget / cycle length must be finite, got budget={budget}, cycle of {cycle:g}") from None
    # With fractional step sizes only some multiples of the cycle are whole iterations;
    # the search stops after _ALIGN_TRIES counts so that no cycle length can make it hang.
    for cycles in range(most, max(0, most - _ALIGN_TRIES), -1):
        total = cycles * cycle
        if abs(total - round(total)) <= 1e-9 * total:
            return round(total)
    raise ValueError(
        f"no whole number of cycles of {cycle:g} iterations ends on a whole iteration within budget={budget}"
    )


_ALIGN_TRIES = 100_000


def base_lr_from_max_lr(max_lr: float, divisor: float = 4.0) -> float:
    """``max_lr / divisor``: the paper's rule that base_lr = 1/3 to 1/4 of max_lr works.

    Args:
        max_lr: the upper bound, e.g. from the LR range test.
        divisor: how many times smaller ``base_lr`` is, above 1.

    Returns:
        The lower bound ``base_lr``.

    Raises:
        TypeError: an argument is not a number.
        ValueError: ``max_lr`` is not positive, or ``divisor`` is not above 1.

    Examples:
        >>> import cyclr
        >>> cyclr.base_lr_from_max_lr(0.008)
        0.002

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    max_lr = check.positive("max_lr", max_lr)
    divisor = check.real("divisor", divisor)
    if divisor <= 1:
        raise ValueError(f"divisor must be > 1, got divisor={divisor!r}")
    return max_lr / divisor
