"""Reading CLR bounds off a range-test curve: small pure functions over numpy arrays.

Two readings:

- From an accuracy-like metric (the paper's): ``base_lr`` where the metric
  starts to rise, ``max_lr`` where its rise slows (the knee of the rise), or
  where it turns ragged - never the metric's peak, which is too high for long
  training.
- From the loss (what later tools do): ``steepest`` descent, the ``valley``
  (middle of the steep drop into the minimum) or ``min_div10``. These give one
  LR, used as ``max_lr``; ``base_lr`` follows the paper's rule (``max_lr / 4``).

:func:`suggest_bounds` is the reading policy: which reading ``"auto"`` picks
for a curve, and the fall-back from the metric to the loss.

Two smoothings, for two jobs. :func:`smooth` is a zero-lag filter (centred
running median, then centred moving average) applied before any reading: an
exponential moving average lags and would push every reading to a higher LR.
:func:`ema` is the bias-corrected exponential moving average the recorder
computes step by step to notice divergence (``RangeTestResult.ema_losses``);
it looks only backwards, as a live check must. When a curve has no usable
signal the functions raise :class:`NoSuggestionError` rather than return a
number that looks trustworthy.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (section 3.3, the range test).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as check
from .schedules import CyclicSchedule, recommended_step_size

LOSS_METHODS = ("valley", "steepest", "min_div10")
DEFAULT_LOSS_METHOD = "valley"
SUGGEST_METHODS = ("auto", "metric", *LOSS_METHODS)
# A change counts as signal when it exceeds this many noise standard deviations
# (see :func:`signal_factor`, which lowers it for long curves).
NOISE_FACTOR = 5.0
STILL_RISING = "the metric is still rising at the end of the sweep: end_lr may be too low"
"""The warning of a metric reading whose best point is the sweep's last, still improving."""
STILL_FALLING = "the loss is still falling at the end of the sweep: end_lr may be too low"
"""The warning of a loss reading whose lowest point is the sweep's last, still falling."""


def signal_factor(n: int) -> float:
    """Noise standard deviations a smoothed curve of ``n`` points must move by to count as signal.

    ``min(NOISE_FACTOR, 3 + 12 / sqrt(n))``: 5 up to 36 points, 4.2 at 100, 3.7
    at 300. In pure Gaussian noise, smoothed and measured as here, the drop
    from the highest point to the lowest one after it stays below
    ``3 + 12 / sqrt(n)`` noise levels in 99% of curves (its 99th percentile is
    about 5.7, 5.1, 4.2, 3.5 and 3.4 for 20, 50, 100, 300 and 1000 points): a
    longer curve averages more points per smoothed value, so a smaller move is
    already signal. Short curves keep the fixed factor 5.

    Args:
        n: the number of points of the curve.

    Returns:
        The factor, between 3 and :data:`NOISE_FACTOR`.

    Examples:
        >>> from cyclr.suggest import signal_factor
        >>> signal_factor(20), round(signal_factor(100), 2), round(signal_factor(300), 2)
        (5.0, 4.2, 3.69)
    """
    return min(NOISE_FACTOR, 3.0 + 12.0 / math.sqrt(max(int(n), 1)))


class NoSuggestionError(ValueError):
    """The curve has no usable signal (flat, too short, diverged at once, never rises).

    A subclass of ValueError: the curve, an input, cannot be read.

    Examples:
        >>> import numpy as np
        >>> from cyclr.suggest import NoSuggestionError, bounds_from_loss
        >>> try:
        ...     bounds_from_loss(np.geomspace(1e-4, 1.0, 50), np.ones(50))
        ... except NoSuggestionError as err:
        ...     print(str(err).split(":")[0])
        the loss curve is flat (range 0 vs noise 0)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """


@dataclasses.dataclass(frozen=True)
class Bounds:
    """CLR bounds read off a range test, with how they were found.

    Args:
        base_lr: the lower bound (of the first parameter group), > 0.
        max_lr: the upper bound (of the first parameter group), >= ``base_lr``.
        method: the reading used, e.g. ``"metric"`` or ``"valley"``.
        explanation: one sentence saying what was read where.
        details: the numbers behind the reading (indices, levels, LRs).
        warnings: reasons to double-check the bounds (e.g. the sweep ended too early).
        group_ratios: LR of each parameter group relative to the first, as in the test.
        max_lr_interval: ``(low, high)``, how sure the reading is: the LRs around
            ``max_lr`` that the curve cannot tell apart from it (for the metric
            reading, where the smoothed metric stays within one noise level of
            its value at ``max_lr``; for a loss reading, the steep drop of the
            loss). None: unknown; a wide interval means a flat, uninformative curve.
        one_cycle_max_lr: the peak for a 1cycle schedule (``torch.optim.lr_scheduler.OneCycleLR``,
            Smith 2018, https://arxiv.org/abs/1803.09820); None: ``max_lr``. It is
            at least ``max_lr``: CLR's ``max_lr`` is visited again every cycle for
            the whole of training, so it must stay well inside the range that
            trains, while 1cycle visits its peak once, briefly, then anneals far
            below it - it can sit nearer the divergence point, where the large LR
            regularizes. From a metric: the LR where the metric peaks (before it
            turns down); from a loss reading: halfway in log LR between ``max_lr``
            and the loss minimum.

    Raises:
        ValueError: a bound is not positive, ``max_lr < base_lr``, a group
            ratio is not positive, ``one_cycle_max_lr < max_lr``, or
            ``max_lr_interval`` does not hold ``max_lr``.

    Examples:
        >>> from cyclr.suggest import Bounds
        >>> bounds = Bounds(0.001, 0.004, "valley")
        >>> bounds.schedule(iterations_per_epoch=100)(400)
        0.004

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
    """

    base_lr: float
    max_lr: float
    method: str
    explanation: str = ""
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    group_ratios: tuple[float, ...] = (1.0,)
    max_lr_interval: tuple[float, float] | None = None
    one_cycle_max_lr: float | None = None

    def __post_init__(self) -> None:
        base = check.positive("base_lr", self.base_lr)
        peak = check.positive("max_lr", self.max_lr)
        check.ordered("base_lr", base, "max_lr", peak)
        if self.one_cycle_max_lr is None:
            object.__setattr__(self, "one_cycle_max_lr", float(peak))
        else:
            check.ordered("max_lr", peak, "one_cycle_max_lr", check.positive("one_cycle_max_lr", self.one_cycle_max_lr))
        if self.max_lr_interval is not None:
            low, high = (float(v) for v in self.max_lr_interval)
            if not (0 < low <= peak <= high and math.isfinite(high)):
                raise ValueError(
                    f"max_lr_interval must be (low, high) with 0 < low <= max_lr <= high, got {self.max_lr_interval!r}"
                )
            object.__setattr__(self, "max_lr_interval", (low, high))
        if not self.group_ratios:
            raise ValueError("group_ratios must not be empty")
        for i, ratio in enumerate(self.group_ratios):
            check.positive(f"group_ratios[{i}]", ratio)
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "group_ratios", tuple(float(r) for r in self.group_ratios))

    def schedule(
        self, iterations_per_epoch: int, epochs_per_step: float = 4.0, mode: str = "triangular", **kwargs: Any
    ) -> CyclicSchedule:
        """A :class:`~cyclr.CyclicSchedule` between the bounds, half a cycle = ``epochs_per_step`` epochs.

        Args:
            iterations_per_epoch: optimizer steps per epoch.
            epochs_per_step: epochs per half cycle (the paper recommends 2 to 10).
            mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
            **kwargs: further :class:`~cyclr.CyclicSchedule` arguments (``gamma``, ``shape``, ...).

        Returns:
            The schedule, for the first parameter group.

        Raises:
            ValueError: a count is not positive, or an argument the schedule rejects.

        Examples:
            >>> from cyclr.suggest import Bounds
            >>> sched = Bounds(0.001, 0.004, "valley").schedule(iterations_per_epoch=10, epochs_per_step=2)
            >>> [round(float(sched(i)), 4) for i in (0, 10, 20, 40)]
            [0.001, 0.0025, 0.004, 0.001]

        References:
            Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
            https://arxiv.org/abs/1506.01186 (section 3.2, the cycle length)
        """
        step = recommended_step_size(iterations_per_epoch, epochs_per_step)
        return CyclicSchedule(
            self.base_lr, self.max_lr, step_size_up=step, mode=mode, **kwargs  # type: ignore[arg-type]
        )

    def cyclic_lr_kwargs(
        self, iterations_per_epoch: int, epochs_per_step: float = 4.0, mode: str = "triangular", **kwargs: Any
    ) -> dict[str, Any]:
        """Keyword arguments for a cyclic schedule between the bounds.

        The names are those every cyclic schedule of cyclr takes
        (:class:`cyclr.CyclicSchedule`, ``cyclr.torch.CyclicLR``,
        ``cyclr.keras.CyclicLR``), so this stays framework-neutral: nothing
        here knows about torch. When the test had several parameter groups
        (``group_ratios``) the bounds are per-group lists, which
        ``cyclr.torch.CyclicLR`` takes.

        Args:
            iterations_per_epoch: optimizer steps per epoch.
            epochs_per_step: epochs per half cycle (the paper recommends 2 to 10).
            mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
            **kwargs: passed through (e.g. ``cycle_momentum=False``).

        Returns:
            ``{"base_lr", "max_lr", "step_size_up", "mode", **kwargs}``.

        Raises:
            ValueError: a count is not positive.

        Examples:
            >>> from cyclr import CyclicSchedule
            >>> from cyclr.suggest import Bounds
            >>> kwargs = Bounds(0.001, 0.004, "valley").cyclic_lr_kwargs(iterations_per_epoch=10)
            >>> kwargs
            {'base_lr': 0.001, 'max_lr': 0.004, 'step_size_up': 40, 'mode': 'triangular'}
            >>> CyclicSchedule(**kwargs)(40)
            0.004

        References:
            Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
            https://arxiv.org/abs/1506.01186
        """
        step = recommended_step_size(iterations_per_epoch, epochs_per_step)
        base: float | list[float] = self.base_lr
        peak: float | list[float] = self.max_lr
        if len(self.group_ratios) > 1:
            base = [self.base_lr * r for r in self.group_ratios]
            peak = [self.max_lr * r for r in self.group_ratios]
        return {"base_lr": base, "max_lr": peak, "step_size_up": step, "mode": mode, **kwargs}

    def one_cycle_lr_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        """Keyword arguments for a 1cycle schedule (``torch.optim.lr_scheduler.OneCycleLR``).

        Args:
            **kwargs: passed through: ``total_steps`` (or ``epochs`` and
                ``steps_per_epoch``) and any other argument of the schedule.

        Returns:
            ``{"max_lr": one_cycle_max_lr, **kwargs}``, ``max_lr`` a per-group
            list when the test had several parameter groups.

        Examples:
            >>> from cyclr.suggest import Bounds
            >>> Bounds(0.01, 0.04, "metric", one_cycle_max_lr=0.1).one_cycle_lr_kwargs(total_steps=1000)
            {'max_lr': 0.1, 'total_steps': 1000}

        References:
            Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
            2018, https://arxiv.org/abs/1803.09820 (the 1cycle policy)
        """
        peak: float | list[float] = float(self.one_cycle_max_lr)  # type: ignore[arg-type]
        if len(self.group_ratios) > 1:
            peak = [float(self.one_cycle_max_lr) * r for r in self.group_ratios]  # type: ignore[arg-type]
        return {"max_lr": peak, **kwargs}

    def to_dict(self) -> dict[str, Any]:
        """The bounds as JSON-able data.

        Returns:
            Every field, with ``details`` a dict and ``warnings`` and ``max_lr_interval`` lists.

        Examples:
            >>> from cyclr.suggest import Bounds
            >>> Bounds(0.001, 0.004, "valley").to_dict()["max_lr"]
            0.004
        """
        interval = None if self.max_lr_interval is None else list(self.max_lr_interval)
        return dataclasses.asdict(self) | {"details": dict(self.details), "warnings": list(self.warnings),
                                           "max_lr_interval": interval}

    def __str__(self) -> str:
        text = f"base_lr={self.base_lr:.4g}, max_lr={self.max_lr:.4g} ({self.method}): {self.explanation}"
        if self.max_lr_interval is not None:
            low, high = self.max_lr_interval
            text += f"\n  max_lr interval: {low:.3g} .. {high:.3g}"
        if self.one_cycle_max_lr != self.max_lr:
            text += f"\n  1cycle max_lr: {self.one_cycle_max_lr:.4g}"
        return text + "".join(f"\n  warning: {w}" for w in self.warnings)


# --- smoothing ----------------------------------------------------------------


def ema_update(average: float, value: float, beta: float, step: int) -> tuple[float, float]:
    """One step of the bias-corrected exponential moving average, in plain Python.

    The only copy of the formula: :func:`ema` runs it over an array, the
    range-test recorder once per training step.

    Args:
        average: the running (uncorrected) average before this step; 0.0 at the start.
        value: this step's value.
        beta: the decay factor, in [0, 1) (not checked here: this runs every step).
        step: this step's number, counting from 1.

    Returns:
        ``(average, corrected)``: the running average to carry to the next step,
        and the bias-corrected value for this step.

    Examples:
        >>> from cyclr.suggest import ema_update
        >>> average, first = ema_update(0.0, 3.0, 0.9, 1)
        >>> first  # bias correction: the first value is the value itself
        3.0
        >>> round(ema_update(average, 1.0, 0.9, 2)[1], 4)
        1.9474

    References:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
        https://arxiv.org/abs/1412.6980 (section 3, the bias correction)
    """
    average = beta * average + (1.0 - beta) * value
    return average, average / (1.0 - beta**step)


def ema(values: ArrayLike, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average: what the recorder stores as ``ema_losses``.

    It lags the curve (it looks only backwards), which suits the live
    divergence check and misleads a reading; the readings use :func:`smooth`.

    Args:
        values: the curve.
        beta: the decay factor, in [0, 1).

    Returns:
        The averaged curve, float64, as long as ``values``.

    Raises:
        ValueError: ``beta`` is outside [0, 1).

    Examples:
        >>> from cyclr.suggest import ema
        >>> ema([3.0, 1.0, 1.0], beta=0.9).round(4).tolist()
        [3.0, 1.9474, 1.5978]

    References:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
        https://arxiv.org/abs/1412.6980 (section 3, the bias correction)
    """
    beta = check.in_range("beta", beta, 0.0, 1.0)
    if beta == 1.0:
        raise ValueError("beta must be < 1, got beta=1.0")
    x = np.asarray(values, dtype=np.float64)
    out = np.empty_like(x)
    average = 0.0
    for i, value in enumerate(x.tolist()):
        average, out[i] = ema_update(average, value, beta, i + 1)
    return out


def default_window(n: int) -> int:
    """Odd smoothing window of about 5% of the points, at least 3.

    Args:
        n: the number of points.

    Returns:
        The window length for :func:`smooth`.

    Examples:
        >>> from cyclr.suggest import default_window
        >>> default_window(10), default_window(100), default_window(1000)
        (3, 5, 51)
    """
    return max(3, (n // 20) | 1)


def smooth(values: ArrayLike, window: int | None = None) -> np.ndarray:
    """Zero-lag smoothing: centred running median (drops spikes), then centred moving average.

    Near the ends the windows shrink symmetrically, so no end is dragged toward
    the other side's values. Every reading smooths its curve with this.

    Args:
        values: the curve.
        window: points per window (odd); None: :func:`default_window`.

    Returns:
        The smoothed curve, float64, as long as ``values``.

    Raises:
        ValueError: ``window`` is not a positive integer.

    Examples:
        >>> from cyclr.suggest import smooth
        >>> smooth([1.0, 1.0, 9.0, 1.0, 1.0, 2.0, 3.0]).tolist()  # the spike is gone
        [1.0, 1.0, 1.0, 1.0, 1.3333333333333333, 2.0, 3.0]
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    w = default_window(n) if window is None else check.positive_int("window", window)
    half = min(w // 2, max(0, (n - 1) // 2))
    if n < 3 or half == 0:
        return x.copy()
    lo, hi = _centred_windows(n, half)
    return _window_means(_window_medians(x, lo, hi), lo, hi)


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n < 2**31 - 1 else np.int64


def _centred_windows(n: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    """``[lo, hi)`` of each point's window: ``half`` points each side, shrunk symmetrically near the ends."""
    i = np.arange(n, dtype=_index_dtype(n))
    h = np.minimum(np.minimum(i, i[::-1]), half)
    return i - h, i + h + 1


def _prefix_sums(values: np.ndarray, dtype: Any) -> np.ndarray:
    """``out[i] = values[:i].sum()`` for ``i`` in ``0..n``."""
    out = np.zeros(values.size + 1, dtype=dtype)
    np.cumsum(values, dtype=dtype, out=out[1:])
    return out


def _window_medians(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``np.median(x[lo[i]:hi[i]])`` for every ``i`` (odd lengths), in O(n log n) time and O(n) memory.

    A wavelet matrix over the ranks of ``x`` answers all the "k-th smallest in a
    range" queries together, one bit of the rank per pass. Windows holding a NaN
    give NaN, as ``np.median`` does.
    """
    n = x.size
    index = _index_dtype(n)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(n, dtype=index)
    ranks[order] = np.arange(n, dtype=index)
    k = ((hi - lo) // 2).astype(index)
    left, right = lo.astype(index), hi.astype(index)
    found = np.zeros(n, dtype=index)
    for level in reversed(range(max(1, (n - 1).bit_length()))):
        ones = (ranks >> level) & 1 == 1
        zeros_before = _prefix_sums(~ones, index)
        at_left, at_right = zeros_before[left], zeros_before[right]
        zeros_inside = at_right - at_left
        go_right = k >= zeros_inside
        k -= np.where(go_right, zeros_inside, 0).astype(index)
        total = zeros_before[-1]
        left = np.where(go_right, total + left - at_left, at_left).astype(index)
        right = np.where(go_right, total + right - at_right, at_right).astype(index)
        found |= go_right.astype(index) << level
        ranks = np.concatenate((ranks[~ones], ranks[ones]))
    out = x[order[found]]
    nan = np.isnan(x)
    if nan.any():
        counts = _prefix_sums(nan, index)
        out[counts[hi] > counts[lo]] = np.nan
    return out


def _window_means(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``np.mean(x[lo[i]:hi[i]])`` for every ``i``, from prefix sums (extended precision, centred on the median).

    Non-finite values give what ``np.mean`` gives: NaN for a NaN or for both
    infinities in a window, else the infinity.
    """
    finite = np.isfinite(x)
    ref = float(np.median(x[finite])) if finite.any() else 0.0
    sums = _prefix_sums(np.where(finite, x - ref, 0.0), np.longdouble)
    out = ((sums[hi] - sums[lo]) / (hi - lo) + ref).astype(np.float64)
    if not finite.all():
        index = _index_dtype(x.size)
        for mask, fill in ((x == np.inf, np.inf), (x == -np.inf, -np.inf)):
            counts = _prefix_sums(mask, index)
            hit = counts[hi] > counts[lo]
            out[hit] = np.where(np.isinf(out[hit]) & (out[hit] != fill), np.nan, fill)
        counts = _prefix_sums(np.isnan(x), index)
        out[counts[hi] > counts[lo]] = np.nan
    return out


def noise_level(values: ArrayLike) -> float:
    """Robust estimate of the noise's standard deviation in the calm parts of a curve.

    From second differences, which cancel a locally linear trend, via their lower
    quartile: a ragged stretch (the curve past its usable range) or a few
    corners do not inflate it. For Gaussian noise the 25th percentile of
    ``|d2|`` is ``0.3186 * sqrt(6) * sigma``.

    Args:
        values: the curve.

    Returns:
        The estimated standard deviation (0.0 for fewer than three points).

    Examples:
        >>> import numpy as np
        >>> from cyclr.suggest import noise_level
        >>> noisy = np.linspace(0.0, 1.0, 2000) + np.random.default_rng(0).normal(0.0, 0.1, 2000)
        >>> round(noise_level(noisy), 1)
        0.1
    """
    d2 = np.diff(np.asarray(values, dtype=np.float64), n=2)
    if d2.size == 0:
        return 0.0
    return float(np.percentile(np.abs(d2), 25) / (0.3186 * math.sqrt(6.0)))


# --- loss readings ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _LossCurve:
    lrs: np.ndarray  # trimmed, > 0
    raw: np.ndarray
    smooth: np.ndarray
    low: int  # index of the smoothed minimum
    top: int  # index of the highest smoothed point before it
    drop: float
    warnings: tuple[str, ...]


def _as_curve(lrs: ArrayLike, values: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(lrs, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lrs and {name} must have the same length, got {x.size} and {y.size}")
    if not np.isfinite(x).all():
        raise ValueError("lrs must be finite")
    if x.size > 1 and (np.diff(x) <= 0).any():
        raise ValueError("lrs must be strictly increasing")
    return x, y


def _loss_curve(
    lrs: ArrayLike, losses: ArrayLike, skip_start: float, skip_end: float, min_points: int = 20
) -> _LossCurve:
    x, y = _as_curve(lrs, losses, "losses")
    skip_start = check.in_range("skip_start", skip_start, 0.0, 0.5)
    skip_end = check.in_range("skip_end", skip_end, 0.0, 0.5)
    keep = (x > 0) & np.isfinite(y)  # a log-LR reading cannot use lr=0 (a linear sweep's first step)
    x, y = x[keep], y[keep]
    n = x.size
    lo, hi = math.ceil(skip_start * n), n - math.ceil(skip_end * n)
    if hi - lo < min_points:
        raise NoSuggestionError(
            f"curve too short: {hi - lo} usable points after trimming (need {min_points}); "
            "run more iterations or check that the test did not stop at once"
        )
    smoothed = smooth(y)[lo:hi]
    x, y = x[lo:hi], y[lo:hi]
    low = int(np.argmin(smoothed))
    top = int(np.argmax(smoothed[: low + 1]))
    drop = float(smoothed[top] - smoothed[low])
    # the fall is read by the point where 90% of it is done: the noise that matters is the noise up to there
    fallen = top + int(np.argmax(smoothed[top : low + 1] <= smoothed[low] + 0.1 * drop))
    noise, usable = _usable_noise(y, fallen, noise_level(y))
    scale = max(float(np.abs(smoothed).max()), 1e-12)
    factor = signal_factor(usable)
    if _flat(smoothed, noise, scale, factor):
        raise NoSuggestionError(
            f"the loss curve is flat (range {np.ptp(smoothed):.3g} vs noise {noise:.3g}): no LR in the sweep "
            "trains; widen the sweep or check the model and data"
        )
    if low == 0:
        raise NoSuggestionError(
            "the loss never decreases: training diverged at once or start_lr is already too high; "
            "lower start_lr"
        )
    if not (drop > factor * noise and drop > 1e-3 * scale):
        raise NoSuggestionError(
            f"the loss does not fall clearly (drop {drop:.3g} vs noise {noise:.3g}; "
            f"needs more than {factor:.2g} times the noise for {smoothed.size} points)"
        )
    warnings: list[str] = []
    if _still_moving(smoothed, low, noise, falling=True):
        warnings.append(STILL_FALLING)
    return _LossCurve(x, y, smoothed, low, top, drop, tuple(warnings))


SMALL_FALL = 1.0 / 3.0
"""On a linear sweep, a non-negative loss that falls by less than this fraction of its level before its
minimum has barely started to learn."""


def _barely_fell(bounds: Bounds, log_x: bool) -> Bounds:
    """A loss reading, with a warning on a linear sweep when the loss fell by under :data:`SMALL_FALL` of its level.

    On a linear sweep the LR grows with every step, so a loss that fell only a
    little before turning back up shows a net that was just starting to learn
    where training turned unstable: the drop being read is a handful of points
    next to that turn. (An exponential sweep spends most of its steps at tiny
    LRs and falls this little as a rule.) Only for a loss that cannot go below
    zero (cross-entropy, MSE and the like), where the fraction means something.
    """
    bottom = float(bounds.details["min_loss"])
    level = bottom + float(bounds.details["drop"])
    if log_x or bottom < 0 or level <= 0 or level - bottom >= SMALL_FALL * level:
        return bounds
    note = (
        f"the loss fell by only {100 * (level - bottom) / level:.0f}% of its level ({level:.3g} to {bottom:.3g}) "
        "before its minimum: the net had barely started to learn where training turned unstable, so the "
        "bounds sit close to that turn; a val_loader (the metric reading) reads such a net more safely"
    )
    return dataclasses.replace(bounds, warnings=(*bounds.warnings, note))


def _usable_noise(values: np.ndarray, end: int, whole: float) -> tuple[float, int]:
    """``(noise, points)`` of the usable part: the curve up to a little past index ``end``.

    The lower of that part's noise and ``whole``, the whole curve's. Past the usable range
    the per-batch loss (or a batch-norm net's accuracy) turns ragged, with
    spikes far above the curve; that raggedness says nothing about the noise
    of the fall (or rise) being read, and measured over the whole curve it
    hid clear ones.
    """
    usable = min(values.size, end + 1 + max(3, (end + 1) // 2))
    if usable < values.size:
        return min(whole, noise_level(values[:usable])), usable
    return whole, usable


def _flat(smoothed: np.ndarray, noise: float, scale: float, factor: float) -> bool:
    spread = float(np.ptp(smoothed))
    return spread <= factor * noise or spread <= 1e-3 * scale


def _still_moving(smoothed: np.ndarray, extreme: int, noise: float, falling: bool) -> bool:
    """True when the curve's best point is at its end and the last stretch still moves that way beyond noise.

    ``smoothed`` is oriented so that ``falling`` says which way is better. A
    curve that has flattened (a validation loss resting near zero) has its
    extreme at the end by chance and does not count: the last tenth of the
    points must move that way by twice the noise of the smoothed curve and
    by 1% of its range.
    """
    n = smoothed.size
    tail = max(2, n // 10)
    if extreme < n - max(2, n // 20) or n <= tail:
        return False
    move = float(smoothed[-1 - tail] - smoothed[-1])
    if not falling:
        move = -move
    # the smoothed points average about a window of raw points: their noise is noise / sqrt(window)
    # and by a hundredth of the curve's range (a noiseless curve levelling off still creeps)
    return move > max(2.0 * noise / math.sqrt(default_window(n)), 0.01 * float(np.ptp(smoothed)))


def _local_slopes(x: np.ndarray, y: np.ndarray, half: int) -> np.ndarray:
    """Least-squares slope of y on x in a centred window (NaN where the window does not fit).

    From prefix sums of the centred data in extended precision: O(n) memory
    whatever the window.
    """
    n = x.size
    out = np.full(n, np.nan)
    if n < 2 * half + 1:
        return out
    m = 2 * half + 1
    xc, yc = x - x.mean(), y - y.mean()

    def window_sums(values: np.ndarray) -> np.ndarray:
        sums = _prefix_sums(values, np.longdouble)
        return sums[m:] - sums[:-m]

    wx = window_sums(xc)
    cov = window_sums(xc * yc) - wx * window_sums(yc) / m
    var = window_sums(xc * xc) - wx * wx / m
    out[half : n - half] = cov / var
    return out


def _steepest_index(c: _LossCurve) -> int:
    logx = np.log10(c.lrs)
    half = max(1, default_window(c.lrs.size) // 2)
    slopes = _local_slopes(logx, c.smooth, half)[: c.low + 1]
    if np.isnan(slopes).all():
        return int(np.argmin(np.gradient(c.smooth[: c.low + 1], logx[: c.low + 1])))
    return int(np.nanargmin(slopes))


def _valley_span(c: _LossCurve) -> tuple[int, int]:
    """First points after the top where 10% and 90% of the drop into the minimum are done."""
    seg = c.smooth[c.top : c.low + 1]
    low_level = c.smooth[c.low]
    start = c.top + int(np.argmax(seg <= low_level + 0.9 * c.drop))
    end = c.top + int(np.argmax(seg <= low_level + 0.1 * c.drop))
    return start, max(start, end)


def _read_loss(c: _LossCurve, method: str) -> tuple[float, str, dict[str, float]]:
    """``(lr, how it was read, details)`` for one loss reading of ``c``."""
    if method == "steepest":
        lr = float(c.lrs[_steepest_index(c)])
        return lr, f"steepest descent of the smoothed loss vs log LR at {lr:.3g}", {"index_lr": lr}
    if method == "valley":
        a, b = _valley_span(c)
        lr = float(math.sqrt(c.lrs[a] * c.lrs[b]))
        details = {"valley_start_lr": float(c.lrs[a]), "valley_end_lr": float(c.lrs[b])}
        return lr, f"middle of the loss valley [{c.lrs[a]:.3g}, {c.lrs[b]:.3g}] in log LR", details
    return float(c.lrs[c.low] / 10.0), f"loss minimum at {c.lrs[c.low]:.3g}, divided by 10", {}


def steepest(lrs: ArrayLike, losses: ArrayLike, skip_start: float = 0.05, skip_end: float = 0.05) -> float:
    """LR of the steepest descent of the smoothed loss against log LR (a local least-squares slope).

    Args:
        lrs: the LRs of the curve, strictly increasing (points at lr=0 are dropped).
        losses: the training loss at each LR.
        skip_start: fraction of the points to ignore at the start, in [0, 0.5].
        skip_end: fraction of the points to ignore at the end, in [0, 0.5].

    Returns:
        The LR.

    Raises:
        NoSuggestionError: the curve is too short, flat, or never falls clearly.
        ValueError: ``lrs`` and ``losses`` differ in length, or ``lrs`` is not increasing.

    Examples:
        >>> import numpy as np
        >>> lrs = np.geomspace(1e-4, 1.0, 100)
        >>> x = np.log10(lrs)
        >>> losses = 2.3 - 2.0 / (1 + np.exp(-4 * (x + 2.5))) + 10 ** (2 * (x + 0.5))
        >>> from cyclr.suggest import steepest
        >>> round(steepest(lrs, losses), 5)
        0.00313

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        2018, https://arxiv.org/abs/1803.09820 (reading the loss of a range test)
    """
    return _read_loss(_loss_curve(lrs, losses, skip_start, skip_end), "steepest")[0]


def valley(lrs: ArrayLike, losses: ArrayLike, skip_start: float = 0.05, skip_end: float = 0.05) -> float:
    """Middle (in log LR) of the steep drop into the loss minimum: between 10% and 90% of the drop.

    In the spirit of fastai's ``valley`` suggestion (not from a paper): the
    geometric mean of the LRs where 10% and 90% of the drop are done.

    Args:
        lrs: the LRs of the curve, strictly increasing (points at lr=0 are dropped).
        losses: the training loss at each LR.
        skip_start: fraction of the points to ignore at the start, in [0, 0.5].
        skip_end: fraction of the points to ignore at the end, in [0, 0.5].

    Returns:
        The LR.

    Raises:
        NoSuggestionError: the curve is too short, flat, or never falls clearly.
        ValueError: ``lrs`` and ``losses`` differ in length, or ``lrs`` is not increasing.

    Examples:
        >>> import numpy as np
        >>> lrs = np.geomspace(1e-4, 1.0, 100)
        >>> x = np.log10(lrs)
        >>> losses = 2.3 - 2.0 / (1 + np.exp(-4 * (x + 2.5))) + 10 ** (2 * (x + 0.5))
        >>> from cyclr.suggest import valley
        >>> round(valley(lrs, losses), 5)
        0.00313
    """
    return _read_loss(_loss_curve(lrs, losses, skip_start, skip_end), "valley")[0]


def min_div10(lrs: ArrayLike, losses: ArrayLike, skip_start: float = 0.05, skip_end: float = 0.05) -> float:
    """The LR at the smoothed loss minimum, divided by 10.

    Args:
        lrs: the LRs of the curve, strictly increasing (points at lr=0 are dropped).
        losses: the training loss at each LR.
        skip_start: fraction of the points to ignore at the start, in [0, 0.5].
        skip_end: fraction of the points to ignore at the end, in [0, 0.5].

    Returns:
        The LR.

    Raises:
        NoSuggestionError: the curve is too short, flat, or never falls clearly.
        ValueError: ``lrs`` and ``losses`` differ in length, or ``lrs`` is not increasing.

    Examples:
        >>> import numpy as np
        >>> lrs = np.geomspace(1e-4, 1.0, 100)
        >>> x = np.log10(lrs)
        >>> losses = 2.3 - 2.0 / (1 + np.exp(-4 * (x + 2.5))) + 10 ** (2 * (x + 0.5))
        >>> from cyclr.suggest import min_div10
        >>> round(min_div10(lrs, losses), 5)
        0.00423

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        2018, https://arxiv.org/abs/1803.09820 (reading the loss of a range test)
    """
    return _read_loss(_loss_curve(lrs, losses, skip_start, skip_end), "min_div10")[0]


def bounds_from_loss(
    lrs: ArrayLike,
    losses: ArrayLike,
    method: str = DEFAULT_LOSS_METHOD,
    divisor: float = 4.0,
    skip_start: float = 0.05,
    skip_end: float = 0.05,
    group_ratios: Sequence[float] = (1.0,),
) -> Bounds:
    """``max_lr`` from a loss reading, ``base_lr = max_lr / divisor`` (the paper's 1/3 to 1/4 rule).

    Args:
        lrs: the LRs of the curve, strictly increasing (points at lr=0 are dropped).
        losses: the training loss at each LR.
        method: ``"valley"`` (default), ``"steepest"`` or ``"min_div10"``.
        divisor: ``max_lr / base_lr``, > 1.
        skip_start: fraction of the points to ignore at the start, in [0, 0.5].
        skip_end: fraction of the points to ignore at the end, in [0, 0.5].
        group_ratios: LR of each parameter group relative to the first, stored on the bounds.

    Returns:
        The :class:`Bounds`, with the numbers behind the reading in ``details``.

    Raises:
        NoSuggestionError: the curve is too short, flat, or never falls clearly.
        ValueError: a bad ``method`` or ``divisor``, or mismatched ``lrs`` and ``losses``.

    Examples:
        >>> import numpy as np
        >>> lrs = np.geomspace(1e-4, 1.0, 100)
        >>> x = np.log10(lrs)
        >>> losses = 2.3 - 2.0 / (1 + np.exp(-4 * (x + 2.5))) + 10 ** (2 * (x + 0.5))
        >>> from cyclr.suggest import bounds_from_loss
        >>> print(bounds_from_loss(lrs, losses))
        base_lr=0.0007814, max_lr=0.003126 (valley): max_lr = middle of the loss valley [0.000933, 0.0105] in log LR; base_lr = max_lr / 4
          max_lr interval: 0.000933 .. 0.0105
          1cycle max_lr: 0.0115

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (the 1/3 to 1/4 rule for ``base_lr``);
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        2018, https://arxiv.org/abs/1803.09820 (reading the loss)
    """
    check.choice("method", method, LOSS_METHODS)
    divisor = check.real("divisor", divisor)
    if divisor <= 1:
        raise ValueError(f"divisor must be > 1, got divisor={divisor!r}")
    c = _loss_curve(lrs, losses, skip_start, skip_end)
    peak, how, reading = _read_loss(c, method)
    details: dict[str, Any] = {"min_lr": float(c.lrs[c.low]), "min_loss": float(c.smooth[c.low]), "drop": c.drop}
    details |= reading
    details["divisor"] = divisor
    a, b = _valley_span(c)
    min_lr = float(c.lrs[c.low])
    return Bounds(
        base_lr=peak / divisor,
        max_lr=peak,
        method=method,
        explanation=f"max_lr = {how}; base_lr = max_lr / {divisor:g}",
        details=details,
        warnings=c.warnings,
        group_ratios=tuple(group_ratios),
        max_lr_interval=(min(peak, float(c.lrs[a])), max(peak, float(c.lrs[b]))),
        one_cycle_max_lr=max(peak, math.sqrt(peak * min_lr)),
    )


# --- the paper's metric reading ------------------------------------------------------


def bounds_from_metric(
    lrs: ArrayLike,
    values: ArrayLike,
    *,
    higher_is_better: bool = True,
    log_x: bool = False,
    rise_start: float = 0.1,
    max_ratio: float = 3.0,
    min_points: int = 8,
    group_ratios: Sequence[float] = (1.0,),
) -> Bounds:
    """The paper's reading of a validation metric against LR.

    The peak is the top of the metric's first hump: its highest point before it
    first falls clearly (by two noise levels, or a tenth of its rise if that is
    less): a later, higher peak past a dip is not usable by a schedule that
    passes through the dip. ``base_lr``: the first LR where the smoothed metric has made
    ``rise_start`` (10%) of its rise to that peak. ``max_lr``: the knee of the
    rise - the point farthest above the straight line from the base to the peak
    (Kneedle), i.e. where the rise slows - or the middle of the rise when it
    never slows; but at least half the peak's LR when the knee has done two
    thirds of the rise and the metric climbs on slowly to its peak (a plateau,
    not a second rise). The peak itself
    is never ``max_lr``: it is too high for long training; it is the bounds'
    ``one_cycle_max_lr``.

    The reading needs a rise larger than noise: :func:`signal_factor` noise
    levels, the noise estimated from the curve's second differences
    (:func:`noise_level`) up to a little past the first hump (a ragged stretch
    at higher LRs does not hide a clear rise). It warns that ``end_lr`` may be
    too low only when that first rise is still going at the end of the sweep.

    Args:
        lrs: the LRs where the metric was measured (increasing).
        values: the metric at each of ``lrs``.
        higher_is_better: False for loss-like metrics (val_loss).
        log_x: read on a log-LR axis (exponential sweeps); the paper's sweep is linear.
        rise_start: fraction of the rise that marks ``base_lr``, in (0, 0.5].
        max_ratio: ``base_lr`` is at most ``max_lr / max_ratio`` (the paper's 1/3 rule), >= 1.
        min_points: fewest finite metric points to read.
        group_ratios: LR of each parameter group relative to the first, stored on the bounds.

    Returns:
        The :class:`Bounds` (method ``"metric"``).

    Raises:
        NoSuggestionError: too few points, or the metric is flat or never rises clearly.
        ValueError: a bad option, or mismatched ``lrs`` and ``values``.

    Examples:
        >>> import numpy as np
        >>> from cyclr.suggest import bounds_from_metric
        >>> lrs = np.linspace(0.0, 0.02, 30)
        >>> accuracy = 0.1 + 0.8 / (1 + np.exp(-(lrs - 0.006) / 0.001)) - 20 * np.clip(lrs - 0.012, 0, None)
        >>> bounds = bounds_from_metric(lrs, accuracy)
        >>> round(bounds.base_lr, 5), round(bounds.max_lr, 5)
        (0.00276, 0.00828)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3);
        Satopaa et al., "Finding a 'Kneedle' in a Haystack", ICDCS Workshops 2011,
        https://doi.org/10.1109/ICDCSW.2011.20
    """
    x, y = _as_curve(lrs, values, "values")
    rise_start = check.in_range("rise_start", rise_start, 0.0, 0.5, low_open=True)
    max_ratio = check.real("max_ratio", max_ratio)
    if max_ratio < 1:
        raise ValueError(f"max_ratio must be >= 1, got max_ratio={max_ratio!r}")
    min_points = check.positive_int("min_points", min_points)
    keep = np.isfinite(y) & ((x > 0) if log_x else np.ones_like(x, dtype=bool))
    x, y = x[keep], y[keep]
    if x.size < max(min_points, 4):
        raise NoSuggestionError(
            f"too few metric points: {x.size} (need {max(min_points, 4)}); measure the metric more often"
        )
    hump = _metric_hump(y if higher_is_better else -y)
    s, start, peak, noise = hump.smooth, hump.start, hump.peak, hump.noise
    axis = np.log10(x) if log_x else x
    seg = s[start : peak + 1]
    base = start + int(np.argmax(seg >= s[start] + rise_start * (s[peak] - s[start])))
    warnings = _end_of_sweep_warnings(x, hump)
    if base >= peak:
        raise NoSuggestionError("the metric jumps to its peak in one point: measure it more often")
    top, how, knee_strength = _top_of_rise(axis, s, base, peak)
    base_lr, max_lr = float(x[base]), float(x[top])
    half_peak = float(x[peak]) / 2.0
    # a plateau: the knee has done most (2/3) of the rise, the rest is a slow climb, not a second rise
    plateau = bool(s[top] - s[base] >= 2.0 / 3.0 * (s[peak] - s[base]))
    if half_peak > max_lr and plateau:
        # The metric keeps improving slowly past the knee up to its peak: the LR at the
        # peak collapses long training, about half of it does not (see the docstring).
        max_lr = half_peak
        how = f"half the LR of the metric's peak, on the plateau past the rise's knee at {x[top]:.3g}"
    if base_lr <= 0:
        # the rise starts at the first point, lr=0: the next measured LR is where it is under way
        base_lr = float(x[base + 1]) if base + 1 < top else max_lr / 4.0
    capped = base_lr > max_lr / max_ratio
    if capped:
        # In a range test the metric also rises with the steps taken, so its onset
        # can sit close to the knee; the paper's 1/3-1/4 rule keeps a real cycle.
        base_lr = max_lr / max_ratio
    if peak - base < 3:
        warnings.append(
            f"the metric's rise is resolved by only {peak - base + 1} points: the reading is coarse; "
            "measure the metric more often (val_every) or end the sweep lower"
        )
    interval = _within_noise(x, s, max_lr, noise)
    details = {
        "base_index": base,
        "max_index": top,
        "peak_index": peak,
        "peak_lr": float(x[peak]),
        "peak_value": float(y[peak]),
        "start_value": float(y[start]),
        "noise": noise,
        "knee_strength": knee_strength,
        "base_capped": capped,
    }
    return Bounds(
        base_lr=base_lr,
        max_lr=max_lr,
        method="metric",
        explanation=(
            (f"base_lr = max_lr / {max_ratio:g} (the metric's onset was closer to max_lr)" if capped
             else f"base_lr where the metric starts to rise ({rise_start:.0%} of its rise)")
            + f", max_lr at {how}; peak at {x[peak]:.3g} (too high for CLR; the 1cycle max_lr)"
        ),
        details=details,
        warnings=tuple(warnings),
        group_ratios=tuple(group_ratios),
        max_lr_interval=interval,
        one_cycle_max_lr=max(max_lr, float(x[peak])),
    )


@dataclasses.dataclass(frozen=True)
class _Hump:
    smooth: np.ndarray  # the smoothed metric, oriented so that higher is better
    start: int  # lowest point before the highest one: where the rise starts
    peak: int  # top of the first hump (see _first_peak)
    top: int  # the highest point of the whole curve
    noise: float  # of the usable part: up to a little past the first hump
    noise_all: float  # of the whole curve


def _metric_hump(oriented: np.ndarray) -> _Hump:
    """The metric's first clear rise and its top, or NoSuggestionError when it has none.

    The noise is measured on the curve up to a little past the first hump (the
    usable part): a ragged stretch at high LRs, where a batch-norm net's
    accuracy jumps between chance and its best, says nothing about the noise
    of the rise, and measured over the whole curve it hid clear rises.
    """
    s = smooth(oriented)
    top_all = int(np.argmax(s))
    start = int(np.argmin(s[: top_all + 1]))
    rise = float(s[top_all] - s[start])
    noise = noise_all = noise_level(oriented)
    scale = max(float(np.abs(s).max()), 1e-12)
    if top_all == 0 or top_all == start:
        _refuse_flat_metric(s, noise, scale, signal_factor(s.size))
        raise NoSuggestionError("the metric never rises: the sweep starts above the usable LR range")
    peak = _first_peak(s, start, min(0.1 * rise, 2.0 * noise))
    noise, usable = _usable_noise(oriented, peak, noise_all)
    factor = signal_factor(usable)
    _refuse_flat_metric(s, noise, scale, factor)
    if not (rise > factor * noise and rise > 1e-3 * scale):
        raise NoSuggestionError(f"the metric does not rise clearly: rise {rise:.3g} vs noise {noise:.3g}")
    return _Hump(s, start, peak, top_all, noise, noise_all)


def _end_of_sweep_warnings(x: np.ndarray, hump: _Hump) -> list[str]:
    """The warnings about the sweep's end: the first rise still going, or a second rise past a dip."""
    s, peak, top_all = hump.smooth, hump.peak, hump.top
    if _still_moving(s, peak, hump.noise, falling=False):
        return [STILL_RISING]
    if peak < top_all and _still_moving(s, top_all, hump.noise_all, falling=False):
        return [
            f"the metric rises again at the end of the sweep, past a dip after its first peak at "
            f"lr={x[peak]:.3g}: a schedule would pass through the dip, so the bounds stay below that peak"
        ]
    return []


def _top_of_rise(axis: np.ndarray, s: np.ndarray, base: int, peak: int) -> tuple[int, str, float]:
    """The index where the rise from ``base`` to ``peak`` slows (its Kneedle knee), how it was found, and
    the knee's strength (its height above the chord, as a fraction of the rise).

    A rise that never bends before turning down gives the middle of the rise on the LR axis.
    """
    xn = (axis[base : peak + 1] - axis[base]) / (axis[peak] - axis[base])
    yn = (s[base : peak + 1] - s[base]) / (s[peak] - s[base])
    bulge = yn - xn
    knee = base + int(np.argmax(bulge))
    if bulge.max() >= 0.1 and knee > base:
        return knee, "the knee of the rise, where it slows", float(bulge.max())
    mid = axis[base] + 0.5 * (axis[peak] - axis[base])
    top = base + max(1, int(np.argmin(np.abs(axis[base : peak + 1] - mid))))
    return top, "the middle of a rise that does not slow before its peak", float(bulge.max())


def _refuse_flat_metric(s: np.ndarray, noise: float, scale: float, factor: float) -> None:
    """NoSuggestionError when the smoothed metric ``s`` moves no more than ``factor`` noise levels."""
    if _flat(s, noise, scale, factor):
        raise NoSuggestionError(
            f"the metric is flat (range {np.ptp(s):.3g} vs noise {noise:.3g}): no LR in the sweep trains"
        )


def first_peak(lrs: ArrayLike, values: ArrayLike, *, higher_is_better: bool = True) -> tuple[float, int] | None:
    """Where a range test's metric tops its first clear rise: the end of the usable LR range.

    The same first hump :func:`bounds_from_metric` reads (its ``peak_lr``).
    The automatic range test uses it to decide whether the usable part of its
    linear sweep was measured often enough, and to sweep it again more finely.

    Args:
        lrs: the LRs where the metric was measured (increasing).
        values: the metric at each of ``lrs``.
        higher_is_better: False for loss-like metrics (val_loss).

    Returns:
        ``(peak_lr, points)``: the LR of the first hump's top and how many
        finite measurements the sweep took up to it; None when the metric shows
        no clear rise.

    Examples:
        >>> import numpy as np
        >>> from cyclr.suggest import first_peak
        >>> lrs = np.linspace(0.0, 1.0, 30)
        >>> accuracy = np.clip(10 * lrs, 0.1, 0.9) - 3 * np.clip(lrs - 0.2, 0, None)
        >>> peak_lr, points = first_peak(lrs, accuracy)
        >>> round(peak_lr, 3), points
        (0.138, 5)
        >>> first_peak(lrs, np.full(30, 0.5)) is None
        True

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
    """
    x, y = _as_curve(lrs, values, "values")
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 4:
        return None
    try:
        hump = _metric_hump(y if higher_is_better else -y)
    except NoSuggestionError:
        return None
    return float(x[hump.peak]), hump.peak + 1


def _first_peak(s: np.ndarray, start: int, tolerance: float) -> int:
    """Index of the highest point of ``s`` from ``start`` until it first falls ``tolerance`` below it.

    A ragged curve can recover after a deep dip and peak again at a higher LR;
    that later peak is not a usable LR for a schedule that passes through the dip.
    """
    best = start
    for i in range(start, s.size):
        if s[i] > s[best]:
            best = i
        elif s[i] < s[best] - tolerance:
            break
    return best


def _within_noise(x: np.ndarray, s: np.ndarray, lr: float, noise: float) -> tuple[float, float]:
    """LRs around ``lr`` where the smoothed, oriented metric stays within ``noise`` of its value at ``lr``."""
    level = float(np.interp(lr, x, s))
    i = int(np.searchsorted(x, lr))
    lo, hi = i, i
    while lo > 0 and abs(s[lo - 1] - level) <= noise:
        lo -= 1
    while hi < s.size - 1 and abs(s[hi + 1] - level) <= noise:
        hi += 1
    low = min(lr, float(x[lo])) if x[lo] > 0 else lr
    return low, max(lr, float(x[min(hi, s.size - 1)]))


# --- the reading policy ---------------------------------------------------------------


def is_loss_like(name: str) -> bool:
    """True when a metric of this name is better lower (a loss, an error, MSE/MAE/RMSE).

    Args:
        name: the metric's name as recorded, e.g. ``"val_loss"`` or ``"val_accuracy"``.

    Returns:
        Whether the metric reading should read it falling rather than rising.

    Examples:
        >>> from cyclr.suggest import is_loss_like
        >>> is_loss_like("val_loss"), is_loss_like("val_mae"), is_loss_like("val_accuracy")
        (True, True, False)
    """
    lowered = name.lower()
    return "loss" in lowered or "error" in lowered or lowered.endswith(("mse", "mae", "rmse"))


def default_metric(names: Iterable[str]) -> str | None:
    """The metric the automatic reading uses: the first accuracy-like one, else ``"val_loss"``.

    The paper reads the validation accuracy; a validation loss is the next best
    signal; without either the policy reads the training loss.

    Args:
        names: the recorded metrics' names, in the order they were recorded.

    Returns:
        The first name containing "acc" (any case), else ``"val_loss"`` if
        recorded, else None.

    Examples:
        >>> from cyclr.suggest import default_metric
        >>> default_metric(["val_loss", "val_accuracy"]), default_metric(["val_loss"]), default_metric([])
        ('val_accuracy', 'val_loss', None)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
    """
    listed = list(names)
    for name in listed:
        if "acc" in name.lower():
            return name
    return "val_loss" if "val_loss" in listed else None


def suggest_bounds(
    lrs: ArrayLike,
    losses: ArrayLike,
    metrics: Mapping[str, ArrayLike] | None = None,
    metric_lrs: ArrayLike | None = None,
    *,
    method: str = "auto",
    metric: str | None = None,
    log_x: bool = False,
    group_ratios: Sequence[float] = (1.0,),
    **options: Any,
) -> Bounds:
    """The reading policy: CLR bounds from a range test's curve, choosing the reading.

    ``"auto"`` reads the metric the paper's way when an accuracy-like metric or
    a validation loss was recorded (see :func:`default_metric`); when there is
    none it reads the training loss's ``"valley"``; and when the metric shows no
    usable signal it falls back to the loss's valley too, saying so in the
    bounds' ``warnings``. ``"metric"`` insists on the metric reading; a loss
    method reads the training loss.

    Args:
        lrs: the LR of every step, strictly increasing.
        losses: the training loss of every step.
        metrics: validation metrics, name -> values at ``metric_lrs``.
        metric_lrs: the LRs where the metrics were measured.
        method: ``"auto"``, ``"metric"``, ``"valley"``, ``"steepest"`` or ``"min_div10"``.
        metric: the metric to read (default: :func:`default_metric`).
        log_x: the sweep was exponential: read the metric on a log-LR axis. On a
            linear sweep a loss reading warns when the loss fell by less than a
            third of its level before its minimum (:data:`SMALL_FALL`).
        group_ratios: LR of each parameter group relative to the first, stored on the bounds.
        **options: passed to :func:`bounds_from_metric` or :func:`bounds_from_loss`.

    Returns:
        The :class:`Bounds`; a metric reading names its metric in ``details["metric"]``.

    Raises:
        NoSuggestionError: no reading finds a usable signal (for ``"auto"``: the
            metric's error when the loss has none either), or ``"metric"`` with
            no metric recorded.
        ValueError: a bad ``method``, or ``metric`` names no recorded metric.

    Examples:
        >>> import numpy as np
        >>> from cyclr.suggest import suggest_bounds
        >>> lrs = np.linspace(0.0, 0.02, 60)
        >>> losses = 2.3 - 2.0 * lrs / 0.02
        >>> accuracy = 0.1 + 0.8 / (1 + np.exp(-(lrs - 0.006) / 0.001)) - 20 * np.clip(lrs - 0.012, 0, None)
        >>> bounds = suggest_bounds(lrs, losses, {"val_accuracy": accuracy[::2]}, lrs[::2])
        >>> bounds.method, bounds.details["metric"], round(bounds.max_lr, 5)
        ('metric', 'val_accuracy', 0.00814)
        >>> flat = suggest_bounds(lrs[1:], (2.3 - np.tanh(80 * lrs))[1:], {"val_accuracy": np.full(30, 0.5)}, lrs[::2])
        >>> flat.method, flat.warnings[0].startswith("no reading from val_accuracy")
        ('valley', True)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3, the metric reading);
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        2018, https://arxiv.org/abs/1803.09820 (reading the loss)
    """
    check.choice("method", method, SUGGEST_METHODS)
    recorded = dict(metrics or {})
    ratios = tuple(group_ratios)
    if method in ("auto", "metric"):
        name = metric if metric is not None else default_metric(recorded)
        if name is None and method == "metric":
            raise NoSuggestionError("no metric was recorded: pass val_loader to the range test or use a loss method")
        if name is not None:
            if name not in recorded:
                raise ValueError(f"metric must be one of {sorted(recorded)}, got metric={name!r}")
            options.setdefault("higher_is_better", not is_loss_like(name))
            try:
                bounds = bounds_from_metric(
                    np.asarray(metric_lrs), recorded[name], log_x=log_x, group_ratios=ratios, **options
                )
            except NoSuggestionError as exc:
                if method == "metric":
                    raise
                return _barely_fell(_loss_fallback(lrs, losses, name, exc, ratios), log_x)
            return dataclasses.replace(bounds, details=dict(bounds.details) | {"metric": name})
        method = DEFAULT_LOSS_METHOD
    return _barely_fell(bounds_from_loss(lrs, losses, method=method, group_ratios=ratios, **options), log_x)


def _loss_fallback(
    lrs: ArrayLike, losses: ArrayLike, name: str, error: NoSuggestionError, ratios: tuple[float, ...]
) -> Bounds:
    """``auto`` when the metric has no usable signal: the training loss's valley, flagged."""
    try:
        bounds = bounds_from_loss(lrs, losses, method=DEFAULT_LOSS_METHOD, group_ratios=ratios)
    except NoSuggestionError:
        raise error from None
    note = f"no reading from {name} ({error}); bounds read from the training loss instead"
    return dataclasses.replace(bounds, warnings=(note, *bounds.warnings))
