"""The LR range test's curve: the recorder every runner feeds, and the result it yields.

A runner (``cyclr.torch.LRFinder``, ``cyclr.keras.LRFinder``, ...) owns the
training loop; it asks the recorder for the LR of each step, hands it the
step's loss and, now and then, validation metrics. The recorder decides when to
stop (divergence, non-finite loss) and builds the :class:`RangeTestResult`. It
is plain Python per step: no numpy, no framework. How the sweep is chosen lives
in :mod:`cyclr.sweep_plan`; how the curve is read, in :mod:`cyclr.suggest`.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (section 3.3, the range test).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _validate as check
from ._io import atomic_write
from .scale import _short, check_plain_data
from .schedules import RangeSweep
from .suggest import STILL_FALLING, STILL_RISING, SUGGEST_METHODS, Bounds, NoSuggestionError, ema_update, suggest_bounds

if TYPE_CHECKING:
    from matplotlib.figure import Figure

StopReason = Literal["finished", "diverged", "non_finite", "interrupted", "error", "exhausted"]
STOP_REASONS: tuple[str, ...] = ("finished", "diverged", "non_finite", "interrupted", "error", "exhausted")
FORMAT = "cyclr.range_test"
FORMAT_VERSION = 1


def default_smooth_beta(num_iter: int) -> float:
    """EMA factor averaging over about a tenth of the sweep (5 to 50 steps): 0.9 for 100 steps, 0.98 from 500.

    A fixed 0.98 lags by ~50 steps, which in a 100-step sweep hides a divergence
    until the sweep is over.

    Args:
        num_iter: steps of the sweep.

    Returns:
        The factor ``1 - 1 / window``.

    Raises:
        ValueError: ``num_iter`` is not a positive integer.

    Examples:
        >>> from cyclr.rangetest import default_smooth_beta
        >>> default_smooth_beta(100), default_smooth_beta(500)
        (0.9, 0.98)
    """
    window = min(50.0, max(5.0, check.positive_int("num_iter", num_iter) / 10.0))
    return 1.0 - 1.0 / window


def check_stopping(smooth_beta: float | None, diverge_th: float) -> tuple[float | None, float]:
    """Check the recorder's stopping options before any batch is drawn.

    Args:
        smooth_beta: the EMA factor, in [0, 1), or None for the default.
        diverge_th: the divergence threshold, > 1.

    Returns:
        ``(smooth_beta, diverge_th)`` as floats (``smooth_beta`` may stay None).

    Raises:
        ValueError: either is out of range.
        TypeError: either is not a real number.

    Examples:
        >>> from cyclr.rangetest import check_stopping
        >>> check_stopping(None, 5)
        (None, 5.0)
    """
    beta = None if smooth_beta is None else check.in_range("smooth_beta", smooth_beta, 0.0, 1.0)
    if beta == 1.0:
        raise ValueError(f"smooth_beta must be < 1, got smooth_beta={smooth_beta!r}")
    threshold = check.real("diverge_th", diverge_th)
    if threshold <= 1:
        raise ValueError(f"diverge_th must be > 1, got diverge_th={diverge_th!r}")
    return beta, threshold


class RangeTestRecorder:
    """Collects a range test's curve and decides when to stop.

    The loss is averaged with the bias-corrected EMA of
    :func:`cyclr.suggest.ema_update` (``ema_losses`` on the result): a
    backward-looking average is what a live divergence check can use. The
    readings smooth the raw losses again, without lag.

    Args:
        sweep: the LR ramp; step ``i`` trains at ``sweep(i)``.
        smooth_beta: EMA factor of the averaged loss, in [0, 1);
            None: :func:`default_smooth_beta` of the sweep's length.
        diverge_th: stop when the averaged loss exceeds ``diverge_th`` times its
            lowest value so far, > 1.
        settings: extra settings stored on the result (runner options).

    Raises:
        TypeError: ``sweep`` is not a :class:`~cyclr.RangeSweep`.
        ValueError: ``smooth_beta`` or ``diverge_th`` is out of range.

    Examples:
        >>> from cyclr import RangeSweep
        >>> from cyclr.rangetest import RangeTestRecorder
        >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"), diverge_th=3.0)
        >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 9.0)]
        [False, False, True]
        >>> recorder.result()
        RangeTestResult(3 steps, lr 0..0.2, stop_reason='diverged', metrics=[])

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    __slots__ = ("sweep", "smooth_beta", "diverge_th", "settings", "_lrs", "_losses", "_smoothed", "_avg",
                 "_best", "_metrics", "_metric_steps", "_stop_reason", "_stop_step")

    def __init__(
        self,
        sweep: RangeSweep,
        smooth_beta: float | None = None,
        diverge_th: float = 5.0,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(sweep, RangeSweep):
            raise TypeError(f"sweep must be a RangeSweep, got {sweep!r}")
        checked_beta, threshold = check_stopping(smooth_beta, diverge_th)
        beta = default_smooth_beta(sweep.num_iter) if checked_beta is None else checked_beta
        self.sweep = sweep
        self.smooth_beta = beta
        self.diverge_th = threshold
        self.settings: dict[str, Any] = {
            "sweep": sweep.to_dict(),
            "smooth_beta": beta,
            "diverge_th": threshold,
            **dict(settings or {}),
        }
        self._lrs = [sweep(i) for i in range(sweep.num_iter)]
        self._losses: list[float] = []
        self._smoothed: list[float] = []
        self._avg = 0.0
        self._best = math.inf
        self._metrics: dict[str, list[float]] = {}
        self._metric_steps: list[int] = []
        self._stop_reason: str | None = None
        self._stop_step: int | None = None

    @property
    def step(self) -> int:
        """Steps recorded so far: the index of the next step.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.record_loss(1.0), recorder.step
            (False, 1)
        """
        return len(self._losses)

    @property
    def done(self) -> bool:
        """True once the sweep is complete or the test has been stopped.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.stop("interrupted")
            >>> recorder.done
            True
        """
        return self._stop_reason is not None or len(self._losses) >= len(self._lrs)

    @property
    def ema_loss(self) -> float:
        """The latest bias-corrected EMA of the loss (NaN before the first step).

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.record_loss(2.0), recorder.ema_loss
            (False, 2.0)
        """
        return self._smoothed[-1] if self._smoothed else math.nan

    @property
    def smoothed_loss(self) -> float:
        """The older name of :attr:`ema_loss`.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.record_loss(2.0), recorder.smoothed_loss == recorder.ema_loss
            (False, True)
        """
        return self.ema_loss

    def lr(self, step: int | None = None) -> float:
        """The LR of a step of the sweep.

        Args:
            step: the step; None: the next step to record.

        Returns:
            The sweep's LR at that step.

        Raises:
            IndexError: ``step`` is past the sweep's end.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.lr(), recorder.lr(4)
            (0.0, 1.0)
        """
        return self._lrs[len(self._losses) if step is None else step]

    def record_loss(self, loss: float) -> bool:
        """Record the next step's training loss and say whether to stop.

        A non-finite loss stops the test without entering the curve.

        Args:
            loss: the step's training loss.

        Returns:
            True when the test must stop: the loss diverged or is not finite.

        Raises:
            RuntimeError: the test has already stopped or finished.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.record_loss(1.0), recorder.record_loss(float("nan"))
            (False, True)
        """
        if self.done:
            raise RuntimeError("record_loss called after the range test stopped or finished")
        loss = float(loss)
        if not math.isfinite(loss):
            # not added to the curve: one inf/nan would poison the smoothed loss and every reading
            self._stop("non_finite")
            return True
        self._avg, smoothed = ema_update(self._avg, loss, self.smooth_beta, len(self._losses) + 1)
        self._losses.append(loss)
        self._smoothed.append(smoothed)
        if smoothed < self._best:
            self._best = smoothed
        elif smoothed > self.diverge_th * self._best and self._best > 0:
            self._stop("diverged", len(self._losses) - 1)
            return True
        if len(self._losses) >= len(self._lrs):
            self._stop_reason = "finished"
        return False

    def record_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record validation metrics measured after the last recorded step.

        Args:
            metrics: name -> value; the same names at every call.

        Raises:
            RuntimeError: no step has been recorded yet.
            ValueError: ``metrics`` is empty, its names changed, or this step already has metrics.
            TypeError: a value is not a real number.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.record_loss(1.0)
            False
            >>> recorder.record_metrics({"val_accuracy": 0.5})
            >>> recorder.result().metrics
            {'val_accuracy': array([0.5])}
        """
        if not self._losses:
            raise RuntimeError("record_metrics needs at least one recorded step")
        if not isinstance(metrics, Mapping) or not metrics:
            raise ValueError(f"metrics must be a non-empty mapping of name -> value, got {metrics!r}")
        values: dict[str, float] = {}
        for name, value in metrics.items():  # all converted before any is stored: a bad one leaves no gap
            try:
                values[str(name)] = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"metrics[{name!r}] must be a real number, got {value!r}") from None
        if self._metrics and set(values) != set(self._metrics):
            raise ValueError(
                f"metrics must have the same names at every step: {sorted(self._metrics)}, got {sorted(values)}"
            )
        step = len(self._losses) - 1
        if self._metric_steps and self._metric_steps[-1] == step:
            raise ValueError(f"metrics for step {step} were already recorded")
        for name, value in values.items():
            self._metrics.setdefault(name, []).append(value)
        self._metric_steps.append(step)

    def stop(self, reason: str) -> None:
        """Mark the test as stopped early by the runner; a later call keeps the first reason.

        Args:
            reason: one of :data:`STOP_REASONS`, by a runner usually
                ``"interrupted"``, ``"error"`` or ``"exhausted"``.

        Raises:
            ValueError: ``reason`` is not a stop reason.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.stop("exhausted")
            >>> recorder.result().stop_reason
            'exhausted'
        """
        check.choice("reason", reason, STOP_REASONS)
        if self._stop_reason is None:
            self._stop(reason)

    def _stop(self, reason: str, step: int | None = None) -> None:
        self._stop_reason = reason
        self._stop_step = len(self._losses) if step is None else step

    def result(self, stop_reason: str | None = None) -> RangeTestResult:
        """The curve recorded so far.

        Args:
            stop_reason: stop the test for this reason first (see :meth:`stop`);
                None: what the recorder saw (``"interrupted"`` if it is unfinished).

        Returns:
            A new :class:`RangeTestResult`.

        Raises:
            ValueError: ``stop_reason`` is not a stop reason.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.record_loss(1.0)
            False
            >>> recorder.result("error").stop_step
            1
        """
        if stop_reason is not None:
            self.stop(stop_reason)
        reason = self._stop_reason
        if reason is None:
            reason = "finished" if len(self._losses) >= len(self._lrs) else "interrupted"
        stop_step = None if reason == "finished" else self._stop_step
        if stop_step is None and reason != "finished":
            stop_step = len(self._losses)
        n = len(self._losses)
        return RangeTestResult(
            lrs=self._lrs[:n],
            losses=self._losses,
            smoothed_losses=self._smoothed,
            metrics=self._metrics,
            metric_steps=self._metric_steps,
            stop_reason=reason,
            stop_step=stop_step,
            settings=self.settings,
        )


class RangeTestResult:
    """A recorded range test: the curve, why it stopped, and how it was run.

    Args:
        lrs: the LR of every completed step.
        losses: the training loss of every completed step.
        smoothed_losses: the recorder's bias-corrected EMA of the loss at every
            step (stored as :attr:`ema_losses`; the name is the saved file's key).
        metrics: name -> values measured at ``metric_steps``.
        metric_steps: the steps after which the metrics were measured.
        stop_reason: one of :data:`STOP_REASONS`.
        stop_step: the step where it stopped early (None when finished).
        settings: sweep, smoothing, divergence threshold and runner options.
        coarse: the exploratory sweep that chose this sweep's range, if any.

    Attributes:
        lrs: one entry per completed step (float64 array).
        losses: the raw training loss per step (float64 array).
        ema_losses: the bias-corrected exponential moving average of the loss
            that decided divergence (float64 array; ``smoothed_losses`` is its
            older name). It lags: the readings smooth ``losses`` with the
            centred filter :func:`cyclr.suggest.smooth` instead.
        metrics: name -> values measured at ``metric_steps`` (LRs ``metric_lrs``).
        stop_reason: ``"finished"``, ``"diverged"``, ``"non_finite"``, ``"interrupted"``,
            ``"error"`` or ``"exhausted"`` (a one-shot loader ran out).
        stop_step: the step where it stopped early (None when finished); for
            ``"diverged"`` the last recorded point, otherwise the first step not recorded.
        settings: sweep, smoothing, divergence threshold and runner options.
        coarse: the exploratory sweep that chose this sweep's range, if any.

    Raises:
        ValueError: the arrays differ in length, or a field is out of range.
        TypeError: ``coarse`` is not a result.

    Examples:
        >>> from cyclr.rangetest import RangeTestResult
        >>> result = RangeTestResult(lrs=[0.0, 0.1, 0.2], losses=[2.0, 1.0, 1.5], smoothed_losses=[2.0, 1.4, 1.5])
        >>> len(result), result.stop_lr
        (3, None)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        lrs: Any,
        losses: Any,
        smoothed_losses: Any,
        metrics: Mapping[str, Any] | None = None,
        metric_steps: Any = (),
        stop_reason: str = "finished",
        stop_step: int | None = None,
        settings: Mapping[str, Any] | None = None,
        coarse: RangeTestResult | None = None,
    ) -> None:
        self.lrs = np.array(lrs, dtype=np.float64)
        self.losses = np.array(losses, dtype=np.float64)
        self.ema_losses = np.array(smoothed_losses, dtype=np.float64)
        if not self.lrs.shape == self.losses.shape == self.ema_losses.shape or self.lrs.ndim != 1:
            raise ValueError(
                "lrs, losses and smoothed_losses must be 1-d and of one length, got "
                f"{self.lrs.shape}, {self.losses.shape}, {self.ema_losses.shape}"
            )
        self.metric_steps = np.array(metric_steps, dtype=np.int64)
        self.metrics = {str(k): np.array(v, dtype=np.float64) for k, v in (metrics or {}).items()}
        for name, values in self.metrics.items():
            if values.shape != self.metric_steps.shape:
                raise ValueError(f"metric {name!r} has {values.size} values for {self.metric_steps.size} metric_steps")
        if self.metric_steps.size and (self.metric_steps.min() < 0 or self.metric_steps.max() >= self.lrs.size):
            raise ValueError(f"metric_steps must index recorded steps 0..{self.lrs.size - 1}")
        self.stop_reason: str = check.choice("stop_reason", stop_reason, STOP_REASONS)
        self.stop_step = None if stop_step is None else int(stop_step)
        self.settings: dict[str, Any] = dict(settings or {})
        if coarse is not None and not isinstance(coarse, RangeTestResult):
            raise TypeError(f"coarse must be a RangeTestResult or None, got {coarse!r}")
        self.coarse = coarse

    # --- views ---------------------------------------------------------------

    @property
    def smoothed_losses(self) -> np.ndarray:
        """The older name of :attr:`ema_losses` (and its key in a saved file).

        Examples:
            >>> from cyclr.rangetest import RangeTestResult
            >>> result = RangeTestResult([0.0, 0.1], [2.0, 1.0], [2.0, 1.5])
            >>> result.smoothed_losses is result.ema_losses
            True
        """
        return self.ema_losses

    @property
    def steps(self) -> np.ndarray:
        """The step numbers ``0..len(self) - 1``.

        Examples:
            >>> from cyclr.rangetest import RangeTestResult
            >>> RangeTestResult([0.0, 0.1], [2.0, 1.0], [2.0, 1.5]).steps.tolist()
            [0, 1]
        """
        return np.arange(self.lrs.size)

    @property
    def metric_lrs(self) -> np.ndarray:
        """LRs at which the metrics were measured.

        Examples:
            >>> from cyclr.rangetest import RangeTestResult
            >>> result = RangeTestResult([0.0, 0.1, 0.2], [2.0, 1.0, 1.5], [2.0, 1.4, 1.5],
            ...                          metrics={"val_loss": [1.2]}, metric_steps=[1])
            >>> result.metric_lrs.tolist()
            [0.1]
        """
        return self.lrs[self.metric_steps]

    @property
    def sweep(self) -> RangeSweep | None:
        """The sweep the test ran, from its settings (None when not recorded).

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 5, "linear"))
            >>> recorder.result().sweep == RangeSweep(0.0, 1.0, 5, "linear")
            True
        """
        data = self.settings.get("sweep")
        return RangeSweep.from_dict(data) if data else None

    @property
    def stop_lr(self) -> float | None:
        """LR where the test stopped early (the divergence point), None when it finished.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"), diverge_th=3.0)
            >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 9.0)]
            [False, False, True]
            >>> round(recorder.result().stop_lr, 3)
            0.2
        """
        if self.stop_step is None:
            return None
        if self.stop_step < self.lrs.size:
            return float(self.lrs[self.stop_step])
        sweep = self.sweep
        if sweep is not None and self.stop_step < sweep.num_iter:
            return float(sweep(self.stop_step))
        return None

    @property
    def log_scale(self) -> bool:
        """True for an exponential sweep: read and plot against log LR.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> RangeTestRecorder(RangeSweep(1e-5, 1.0, 5, "exp")).result().log_scale
            True
        """
        return bool(self.settings.get("sweep", {}).get("step_mode") == "exp")

    def __len__(self) -> int:
        return int(self.lrs.size)

    def __repr__(self) -> str:
        lr = f"{self.lrs[0]:.3g}..{self.lrs[-1]:.3g}" if self.lrs.size else "empty"
        return (f"RangeTestResult({self.lrs.size} steps, lr {lr}, stop_reason={self.stop_reason!r}, "
                f"metrics={sorted(self.metrics)})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeTestResult):
            return NotImplemented
        return _same(self.to_dict(), other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    # --- reading -----------------------------------------------------------------

    def suggest(self, method: str = "auto", *, metric: str | None = None, **options: Any) -> Bounds:
        """Read CLR bounds off the curve with the reading policy of :func:`cyclr.suggest.suggest_bounds`.

        Args:
            method: ``"auto"`` (the metric reading when an accuracy-like metric or
                a validation loss was recorded, else - or when the metric shows no
                usable signal, with a warning on the bounds - ``"valley"`` on the
                training loss), ``"metric"``, or a loss reading: ``"valley"``,
                ``"steepest"``, ``"min_div10"``.
            metric: metric name for the metric reading (default: the first whose
                name contains "acc", else "val_loss").
            **options: passed to :func:`cyclr.suggest.bounds_from_metric` or
                :func:`cyclr.suggest.bounds_from_loss`; ``log_x`` defaults to
                :attr:`log_scale`.

        Returns:
            The :class:`~cyclr.suggest.Bounds`, with the test's parameter-group ratios.

        Raises:
            NoSuggestionError: the curve has no usable signal.
            ValueError: a bad ``method``, or ``metric`` names no recorded metric.

        Examples:
            >>> import numpy as np
            >>> from cyclr.rangetest import RangeTestResult
            >>> lrs = np.geomspace(1e-4, 1.0, 100)
            >>> x = np.log10(lrs)
            >>> losses = 2.3 - 2.0 / (1 + np.exp(-4 * (x + 2.5))) + 10 ** (2 * (x + 0.5))
            >>> RangeTestResult(lrs, losses, losses).suggest().method
            'valley'

        References:
            Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
            https://arxiv.org/abs/1506.01186
        """
        log_x = options.pop("log_x", self.log_scale)
        bounds = suggest_bounds(
            self.lrs, self.losses, self.metrics, self.metric_lrs, method=method, metric=metric, log_x=log_x,
            group_ratios=tuple(self.settings.get("group_ratios", (1.0,))), **options,
        )
        if self.stop_reason not in ("diverged", "non_finite"):
            return bounds
        # the sweep ended where training diverged, not at end_lr: a higher end_lr would not help
        where = f"lr={self.stop_lr:.3g}" if self.stop_lr is not None else "its last step"
        true = {STILL_RISING: f"the metric was still rising where training diverged ({where}): the usable range "
                              "ends abruptly there",
                STILL_FALLING: f"the loss was still falling where training diverged ({where})"}
        return dataclasses.replace(bounds, warnings=tuple(true.get(w, w) for w in bounds.warnings))

    def plot(self, bounds: Bounds | str | None = "auto", **kwargs: Any) -> Figure:
        """Loss (raw, smoothed), metrics and suggested bounds against LR; see :func:`cyclr.plot.plot_range_test`.

        Args:
            bounds: the bounds to shade: a :class:`~cyclr.suggest.Bounds`, a
                :meth:`suggest` method name, or None for none.
            **kwargs: passed to :func:`cyclr.plot.plot_range_test`.

        Returns:
            A matplotlib Figure (never shown).

        Raises:
            ImportError: matplotlib is not installed (``pip install cyclr[plot]``).

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"))
            >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 1.5, 1.2)]
            [False, False, False, False]
            >>> result = recorder.result()
            >>> fig = result.plot(bounds=None)
            >>> type(fig).__name__
            'Figure'
        """
        from .plot import plot_range_test

        return plot_range_test(self, bounds=bounds, **kwargs)

    # --- persistence ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able data; :meth:`from_dict` rebuilds an equal result (floats round-trip exactly).

        Returns:
            A dict with the format tag, the curve (the EMA under its file key
            ``"smoothed_losses"``), metrics, stop reason, settings and the coarse sweep.

        Examples:
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"))
            >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 1.5, 1.2)]
            [False, False, False, False]
            >>> result = recorder.result()
            >>> type(result).from_dict(result.to_dict()) == result
            True
        """
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "lrs": self.lrs.tolist(),
            "losses": self.losses.tolist(),
            "smoothed_losses": self.ema_losses.tolist(),
            "metrics": {k: v.tolist() for k, v in self.metrics.items()},
            "metric_steps": self.metric_steps.tolist(),
            "stop_reason": self.stop_reason,
            "stop_step": self.stop_step,
            "settings": self.settings,
            "coarse": None if self.coarse is None else self.coarse.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeTestResult:
        """Rebuild a result from :meth:`to_dict`'s output, checking every field first.

        What a recorder produces always loads: LRs finite, >= 0 and
        non-decreasing; finite losses; metrics any float (a diverged
        validation loss may be NaN); integer steps. A nested ``coarse`` result
        may not have a ``coarse`` of its own. The stored sweep is checked too,
        and never names a scale function.

        Args:
            data: a dict as written by :meth:`to_dict`.

        Returns:
            The rebuilt result.

        Raises:
            TypeError: ``data`` or a field has the wrong type.
            ValueError: a field is missing, unknown or out of range.

        Examples:
            >>> from cyclr.rangetest import RangeTestResult
            >>> RangeTestResult.from_dict({"format": "cyclr.range_test"})
            Traceback (most recent call last):
            ...
            ValueError: unsupported range test format version None in data
        """
        _check_result_dict("data", data)
        coarse = data.get("coarse")
        if coarse is not None:
            _check_result_dict("data['coarse']", coarse)
            if coarse.get("coarse") is not None:
                raise ValueError(
                    f"data['coarse'] may not have a coarse sweep of its own (at most {MAX_COARSE_DEPTH} level)"
                )
        return cls(
            lrs=data["lrs"],
            losses=data["losses"],
            smoothed_losses=data["smoothed_losses"],
            metrics=data.get("metrics", {}),
            metric_steps=data.get("metric_steps", []),
            stop_reason=data["stop_reason"],
            stop_step=data.get("stop_step"),
            settings=data.get("settings", {}),
            coarse=None if coarse is None else cls.from_dict(coarse),
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
        """Write the result as JSON (exact round trip through :meth:`load`).

        The file is written under a temporary name and renamed into place, so a
        failure (a full disk, Ctrl-C) leaves any earlier file at ``path`` intact.

        Args:
            path: the JSON file to write.
            overwrite: replace an existing file (the default, as before); with
                False an existing ``path`` raises FileExistsError.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is False.
            OSError: the file cannot be written.

        Examples:
            >>> import os, tempfile
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"))
            >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 1.5, 1.2)]
            [False, False, False, False]
            >>> result = recorder.result()
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     path = os.path.join(folder, "range_test.json")
            ...     result.save(path)
            ...     type(result).load(path) == result
            True
        """
        with atomic_write(path, "w", overwrite=overwrite, encoding="utf-8") as f:
            json.dump(self.to_dict(), f)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RangeTestResult:
        """Read a result written by :meth:`save`.

        Args:
            path: the JSON file.

        Returns:
            The result, every field checked as in :meth:`from_dict`.

        Raises:
            OSError: the file cannot be read.
            ValueError: the file is not valid UTF-8 JSON, is nested too deeply, or is not a saved range test.
            TypeError: a field has the wrong type.

        Examples:
            >>> import os, tempfile
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"))
            >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 1.5, 1.2)]
            [False, False, False, False]
            >>> result = recorder.result()
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     path = os.path.join(folder, "range_test.json")
            ...     result.save(path)
            ...     len(type(result).load(path))
            4
        """
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValueError(f"{os.fspath(path)!r} is not a saved range test: its JSON is nested too deeply") from None
        return cls.from_dict(data)

    def to_csv(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
        """Write the curve as CSV, one row per step.

        Columns: step, lr, loss, smoothed_loss (the EMA), then one column per
        metric (empty where it was not measured). Floats are written with full
        precision. Written atomically, as :meth:`save`.

        Args:
            path: the CSV file to write.
            overwrite: replace an existing file; with False an existing ``path`` raises FileExistsError.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is False.
            OSError: the file cannot be written.

        Examples:
            >>> import os, tempfile
            >>> from cyclr import RangeSweep
            >>> from cyclr.rangetest import RangeTestRecorder
            >>> recorder = RangeTestRecorder(RangeSweep(0.0, 0.3, 4, "linear"))
            >>> [recorder.record_loss(loss) for loss in (2.0, 1.0, 1.5, 1.2)]
            [False, False, False, False]
            >>> result = recorder.result()
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     path = os.path.join(folder, "range_test.csv")
            ...     result.to_csv(path)
            ...     print(open(path).readline().strip())
            step,lr,loss,smoothed_loss
        """
        names = list(self.metrics)
        by_step = {int(s): i for i, s in enumerate(self.metric_steps.tolist())}
        with atomic_write(path, "w", overwrite=overwrite, encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "lr", "loss", "smoothed_loss", *names])
            for step in range(self.lrs.size):
                row = [step, repr(float(self.lrs[step])), repr(float(self.losses[step])),
                       repr(float(self.ema_losses[step]))]
                j = by_step.get(step)
                row += [repr(float(self.metrics[n][j])) if j is not None else "" for n in names]
                writer.writerow(row)


# --- checks of loaded data ------------------------------------------------------

# A saved result holds the sweep that it ran and, in automatic mode, the coarse
# sweep that chose its range; that one has no coarse sweep of its own.
MAX_COARSE_DEPTH = 1
_REQUIRED_KEYS = ("format", "version", "lrs", "losses", "smoothed_losses", "stop_reason")
_OPTIONAL_KEYS = ("metrics", "metric_steps", "stop_step", "settings", "coarse")


def _check_result_dict(name: str, data: Any) -> None:
    """ValueError/TypeError naming the field unless ``data`` is a well-formed saved result (``coarse`` aside)."""
    if not isinstance(data, Mapping):
        raise TypeError(f"{name} must be a dict (a saved range test), got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ValueError(
            f"{name} is not a saved range test (format={_short(data.get('format'))}, expected {FORMAT!r})"
        )
    version = data.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(f"unsupported range test format version {_short(version)} in {name}")
    missing = [key for key in _REQUIRED_KEYS if key not in data]
    if missing:
        raise ValueError(f"{name} is missing the fields {missing}")
    unknown = sorted(str(key) for key in data if key not in _REQUIRED_KEYS + _OPTIONAL_KEYS)
    if unknown:
        raise ValueError(f"{name} has unknown fields {_short(unknown)}")
    lrs = _real_list(f"{name}['lrs']", data["lrs"], finite=True)
    for i, lr in enumerate(lrs):
        if lr < 0:
            raise ValueError(f"{name}['lrs'] must be >= 0, got {name}['lrs'][{i}]={lr!r}")
        if i and lr < lrs[i - 1]:
            raise ValueError(f"{name}['lrs'] must not decrease, got {lrs[i - 1]!r} then {name}['lrs'][{i}]={lr!r}")
    for key in ("losses", "smoothed_losses"):
        values = _real_list(f"{name}[{key!r}]", data[key], finite=True)
        if len(values) != len(lrs):
            raise ValueError(f"{name}[{key!r}] must have one value per lr ({len(lrs)}), got {len(values)}")
    steps = _int_list(f"{name}['metric_steps']", data.get("metric_steps", []))
    for i, step in enumerate(steps):
        if not 0 <= step < len(lrs) or (i and step <= steps[i - 1]):
            raise ValueError(
                f"{name}['metric_steps'] must be increasing steps in 0..{len(lrs) - 1}, "
                f"got {name}['metric_steps'][{i}]={step!r}"
            )
    metrics = data.get("metrics", {})
    if not isinstance(metrics, Mapping):
        raise TypeError(f"{name}['metrics'] must be a dict of name -> values, got {type(metrics).__name__}")
    for metric, values in metrics.items():
        if not isinstance(metric, str):
            raise TypeError(f"{name}['metrics'] must have string names, got {_short(metric)}")
        if len(_real_list(f"{name}['metrics'][{metric!r}]", values, finite=False)) != len(steps):
            raise ValueError(f"{name}['metrics'][{metric!r}] must have one value per metric step ({len(steps)})")
    reason = data["stop_reason"]
    if not isinstance(reason, str):
        raise TypeError(f"{name}['stop_reason'] must be a string, got {_short(reason)}")
    check.choice(f"{name}['stop_reason']", reason, STOP_REASONS)
    stop_step = data.get("stop_step")
    if stop_step is not None:
        if type(stop_step) is not int:
            raise TypeError(f"{name}['stop_step'] must be an integer or None, got {_short(stop_step)}")
        if not 0 <= stop_step <= MAX_STEPS:
            raise ValueError(f"{name}['stop_step'] must be in 0..{MAX_STEPS}, got {name}['stop_step']={stop_step!r}")
    _check_settings(f"{name}['settings']", data.get("settings", {}))


# More steps than any range test runs; bounds the integers a file can hand to the arithmetic.
MAX_STEPS = 2**53


def _check_settings(name: str, settings: Any) -> None:
    if not isinstance(settings, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(settings).__name__}")
    check_plain_data(name, settings)
    if "sweep" in settings:
        try:  # checked now, not when .stop_lr or .plot() first reads it
            RangeSweep.from_dict(settings["sweep"])
        except (TypeError, ValueError) as err:
            raise type(err)(f"{name}['sweep']: {err}") from None
    if "group_ratios" in settings:
        ratios = _real_list(f"{name}['group_ratios']", settings["group_ratios"], finite=True)
        if not ratios:
            raise ValueError(f"{name}['group_ratios'] must not be empty")
        for ratio in ratios:
            if ratio <= 0:
                raise ValueError(f"{name}['group_ratios'] must be > 0, got {ratio!r}")


def _real_list(name: str, values: Any, *, finite: bool) -> list[float]:
    """``values`` as floats: a list of real numbers (not bools); finite ones if ``finite``."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list of numbers, got {type(values).__name__}")
    out = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must hold numbers, got {name}[{i}]={_short(value)}")
        if isinstance(value, int) and abs(value) > 2**1023:
            raise ValueError(f"{name} holds a number too large for a float at index {i}")
        number = float(value)
        if finite and not math.isfinite(number):
            raise ValueError(f"{name} must be finite, got {name}[{i}]={number!r}")
        out.append(number)
    return out


def _int_list(name: str, values: Any) -> list[int]:
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list of integers, got {type(values).__name__}")
    for i, value in enumerate(values):
        if type(value) is not int:
            raise TypeError(f"{name} must hold integers, got {name}[{i}]={_short(value)}")
    return list(values)


def _same(a: Any, b: Any) -> bool:
    """Exact equality of JSON-like data, where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


__all__ = [
    "Bounds",
    "NoSuggestionError",
    "RangeTestRecorder",
    "RangeTestResult",
    "STOP_REASONS",
    "SUGGEST_METHODS",
    "check_stopping",
    "default_smooth_beta",
]
