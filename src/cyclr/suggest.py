"""Reading CLR bounds off a range-test curve: small pure functions over numpy arrays.

Two readings:

- From an accuracy-like metric (the paper's): ``base_lr`` where the metric
  starts to rise, ``max_lr`` where its rise slows (the knee of the rise), or
  where it turns ragged - never the metric's peak, which is too high for long
  training.
- From the loss (what later tools do): ``steepest`` descent, the ``valley``
  (middle of the steep drop into the minimum) or ``min_div10``. These give one
  LR, used as ``max_lr``; ``base_lr`` follows the paper's rule (``max_lr / 4``).

Curves are smoothed with a zero-lag filter (centred running median, then
centred moving average) before any reading: an exponential moving average lags
and would push every reading to a higher LR. When a curve has no usable signal
the functions raise :class:`NoSuggestionError` rather than return a number that
looks trustworthy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as check
from .schedules import CyclicSchedule, recommended_step_size

LOSS_METHODS = ("valley", "steepest", "min_div10")
DEFAULT_LOSS_METHOD = "valley"
# A change counts as signal when it exceeds this many noise standard deviations:
# the extremes of a smoothed pure-noise curve of a few dozen points stay within it.
NOISE_FACTOR = 5.0


class NoSuggestionError(ValueError):
    """The curve has no usable signal (flat, too short, diverged at once, never rises)."""


@dataclasses.dataclass(frozen=True)
class Bounds:
    """CLR bounds read off a range test, with how they were found.

    Args:
        base_lr, max_lr: the bounds (of the first parameter group).
        method: the reading used, e.g. ``"metric"`` or ``"valley"``.
        explanation: one sentence saying what was read where.
        details: the numbers behind the reading (indices, levels, LRs).
        warnings: reasons to double-check the bounds (e.g. the sweep ended too early).
        group_ratios: LR of each parameter group relative to the first, as in the test.
    """

    base_lr: float
    max_lr: float
    method: str
    explanation: str = ""
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    group_ratios: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        base = check.positive("base_lr", self.base_lr)
        peak = check.positive("max_lr", self.max_lr)
        check.ordered("base_lr", base, "max_lr", peak)
        if not self.group_ratios:
            raise ValueError("group_ratios must not be empty")
        for i, ratio in enumerate(self.group_ratios):
            check.positive(f"group_ratios[{i}]", ratio)
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "group_ratios", tuple(float(r) for r in self.group_ratios))

    def schedule(
        self, iterations_per_epoch: int, epochs_per_step: float = 4.0, mode: str = "triangular", **kwargs: Any
    ) -> CyclicSchedule:
        """A :class:`~cyclr.CyclicSchedule` between the bounds, half a cycle = ``epochs_per_step`` epochs."""
        step = recommended_step_size(iterations_per_epoch, epochs_per_step)
        return CyclicSchedule(
            self.base_lr, self.max_lr, step_size_up=step, mode=mode, **kwargs  # type: ignore[arg-type]
        )

    def cyclic_lr_kwargs(
        self, iterations_per_epoch: int, epochs_per_step: float = 4.0, mode: str = "triangular", **kwargs: Any
    ) -> dict[str, Any]:
        """Keyword arguments for ``cyclr.torch.CyclicLR`` (per-group lists when the test had several groups)."""
        step = recommended_step_size(iterations_per_epoch, epochs_per_step)
        base: float | list[float] = self.base_lr
        peak: float | list[float] = self.max_lr
        if len(self.group_ratios) > 1:
            base = [self.base_lr * r for r in self.group_ratios]
            peak = [self.max_lr * r for r in self.group_ratios]
        return {"base_lr": base, "max_lr": peak, "step_size_up": step, "mode": mode, **kwargs}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"details": dict(self.details), "warnings": list(self.warnings)}

    def __str__(self) -> str:
        text = f"base_lr={self.base_lr:.4g}, max_lr={self.max_lr:.4g} ({self.method}): {self.explanation}"
        return text + "".join(f"\n  warning: {w}" for w in self.warnings)


# --- smoothing ----------------------------------------------------------------


def ema(values: ArrayLike, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average (what the recorder stores as ``smoothed_losses``)."""
    beta = check.in_range("beta", beta, 0.0, 1.0)
    if beta == 1.0:
        raise ValueError("beta must be < 1, got beta=1.0")
    x = np.asarray(values, dtype=np.float64)
    out = np.empty_like(x)
    avg = 0.0
    for i, v in enumerate(x.tolist()):
        avg = beta * avg + (1 - beta) * v
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def default_window(n: int) -> int:
    """Odd smoothing window of about 5% of the points, at least 3."""
    return max(3, (n // 20) | 1)


def smooth(values: ArrayLike, window: int | None = None) -> np.ndarray:
    """Zero-lag smoothing: centred running median (drops spikes), then centred moving average.

    Near the ends the windows shrink symmetrically, so no end is dragged toward
    the other side's values.
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
    noise = noise_level(y)
    scale = max(float(np.abs(smoothed).max()), 1e-12)
    if _flat(smoothed, noise, scale):
        raise NoSuggestionError(
            f"the loss curve is flat (range {np.ptp(smoothed):.3g} vs noise {noise:.3g}): no LR in the sweep "
            "trains; widen the sweep or check the model and data"
        )
    if low == 0:
        raise NoSuggestionError(
            "the loss never decreases: training diverged at once or start_lr is already too high; "
            "lower start_lr"
        )
    if drop <= NOISE_FACTOR * noise or drop <= 1e-3 * scale:
        raise NoSuggestionError(f"the loss does not fall clearly (drop {drop:.3g} vs noise {noise:.3g})")
    warnings: list[str] = []
    if low >= smoothed.size - max(2, smoothed.size // 20):
        warnings.append("the loss is still falling at the end of the sweep: end_lr may be too low")
    return _LossCurve(x, y, smoothed, low, top, drop, tuple(warnings))


def _flat(smoothed: np.ndarray, noise: float, scale: float) -> bool:
    spread = float(np.ptp(smoothed))
    return spread <= NOISE_FACTOR * noise or spread <= 1e-3 * scale


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
    """LR of the steepest descent of the smoothed loss against log LR (a local least-squares slope)."""
    return _read_loss(_loss_curve(lrs, losses, skip_start, skip_end), "steepest")[0]


def valley(lrs: ArrayLike, losses: ArrayLike, skip_start: float = 0.05, skip_end: float = 0.05) -> float:
    """Middle (in log LR) of the steep drop into the loss minimum: between 10% and 90% of the drop."""
    return _read_loss(_loss_curve(lrs, losses, skip_start, skip_end), "valley")[0]


def min_div10(lrs: ArrayLike, losses: ArrayLike, skip_start: float = 0.05, skip_end: float = 0.05) -> float:
    """The LR at the smoothed loss minimum, divided by 10."""
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

    ``method``: ``"valley"`` (default), ``"steepest"`` or ``"min_div10"``.
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
    return Bounds(
        base_lr=peak / divisor,
        max_lr=peak,
        method=method,
        explanation=f"max_lr = {how}; base_lr = max_lr / {divisor:g}",
        details=details,
        warnings=c.warnings,
        group_ratios=tuple(group_ratios),
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

    ``base_lr``: the first LR where the smoothed metric has made ``rise_start``
    (10%) of its rise. ``max_lr``: the knee of the rise - the point farthest
    above the straight line from the base to the peak (Kneedle), i.e. where the
    rise slows - or the middle of the rise when it never slows before turning
    down. The peak itself is never returned: it is too high for long training.

    Args:
        lrs: the LRs where the metric was measured (increasing).
        higher_is_better: False for loss-like metrics (val_loss).
        log_x: read on a log-LR axis (exponential sweeps); the paper's sweep is linear.
        max_ratio: ``base_lr`` is at most ``max_lr / max_ratio`` (the paper's 1/3 rule).
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
    oriented = y if higher_is_better else -y
    s = smooth(oriented)
    axis = np.log10(x) if log_x else x
    peak = int(np.argmax(s))
    start = int(np.argmin(s[: peak + 1]))
    rise = float(s[peak] - s[start])
    noise = noise_level(oriented)
    scale = max(float(np.abs(s).max()), 1e-12)
    if _flat(s, noise, scale):
        raise NoSuggestionError(
            f"the metric is flat (range {np.ptp(s):.3g} vs noise {noise:.3g}): no LR in the sweep trains"
        )
    if peak == 0 or peak == start:
        raise NoSuggestionError("the metric never rises: the sweep starts above the usable LR range")
    if rise <= NOISE_FACTOR * noise or rise <= 1e-3 * scale:
        raise NoSuggestionError(f"the metric does not rise clearly: rise {rise:.3g} vs noise {noise:.3g}")
    seg = s[start : peak + 1]
    base = start + int(np.argmax(seg >= s[start] + rise_start * rise))
    warnings: list[str] = []
    if peak >= s.size - 2:
        warnings.append("the metric is still rising at the end of the sweep: end_lr may be too low")
    if base >= peak:
        raise NoSuggestionError("the metric jumps to its peak in one point: measure it more often")
    xn = (axis[base : peak + 1] - axis[base]) / (axis[peak] - axis[base])
    yn = (s[base : peak + 1] - s[base]) / (s[peak] - s[base])
    bulge = yn - xn
    knee = base + int(np.argmax(bulge))
    if bulge.max() >= 0.1 and knee > base:
        top = knee
        how = "the knee of the rise, where it slows"
    else:
        # A rise that never bends before turning down: the study in PAPER.md found
        # about half the peak LR safe; take the middle of the rise on the LR axis.
        mid = axis[base] + 0.5 * (axis[peak] - axis[base])
        top = base + max(1, int(np.argmin(np.abs(axis[base : peak + 1] - mid))))
        how = "the middle of a rise that does not slow before its peak"
    base_lr, max_lr = float(x[base]), float(x[top])
    if base_lr <= 0:
        # the rise starts at the first point, lr=0: the next measured LR is where it is under way
        base_lr = float(x[base + 1]) if base + 1 < top else max_lr / 4.0
    capped = base_lr > max_lr / max_ratio
    if capped:
        # In a range test the metric also rises with the steps taken, so its onset
        # can sit close to the knee; the paper's 1/3-1/4 rule keeps a real cycle.
        base_lr = max_lr / max_ratio
    details = {
        "base_index": base,
        "max_index": top,
        "peak_lr": float(x[peak]),
        "peak_value": float(y[peak]),
        "start_value": float(y[start]),
        "noise": noise,
        "knee_strength": float(bulge.max()),
        "base_capped": capped,
    }
    return Bounds(
        base_lr=base_lr,
        max_lr=max_lr,
        method="metric",
        explanation=(
            (f"base_lr = max_lr / {max_ratio:g} (the metric's onset was closer to max_lr)" if capped
             else f"base_lr where the metric starts to rise ({rise_start:.0%} of its rise)")
            + f", max_lr at {how}; peak at {x[peak]:.3g} not used"
        ),
        details=details,
        warnings=tuple(warnings),
        group_ratios=tuple(group_ratios),
    )
