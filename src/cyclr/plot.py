"""Figures (matplotlib, the ``plot`` extra). Every function returns a Figure and never shows it.

Figures are built on ``matplotlib.figure.Figure`` directly, without pyplot, so
they work headless and leave the user's pyplot state alone. Save with
:func:`save_figure` (atomic: written to a temporary name, then renamed) or
``fig.savefig("name.png")``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .schedules import CyclicSchedule, OneCycleSchedule, RangeSweep, Schedule

__all__ = ["plot_range_test", "plot_schedules", "save_figure"]

LR_COLOR = "tab:blue"
MOMENTUM_COLOR = "tab:orange"
# A schedule preview draws at most this many evenly spaced iterations (plus the
# cycles' turning points while there are few enough), whatever the length.
MAX_POINTS = 4000
MAX_CYCLE_MARKS = 200


def save_figure(
    fig: Figure, path: str | os.PathLike[str], *, overwrite: bool = False, **savefig_kwargs: Any
) -> Path:
    """Save ``fig`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    A failure part-way (a full disk, Ctrl-C) leaves any earlier file at
    ``path`` as it was. The format is the suffix of ``path``.

    Args:
        fig: the figure.
        path: where to write, ending in a format matplotlib can write (``.png``, ``.pdf``, ``.svg``, ...).
        overwrite: replace an existing file; by default an existing ``path`` raises FileExistsError.
        savefig_kwargs: passed to ``fig.savefig`` (``dpi``, ``bbox_inches``, ...).

    Returns:
        The path written.

    Raises:
        ValueError: ``path`` has no suffix or one matplotlib cannot write.
        FileExistsError: ``path`` exists and ``overwrite`` is False.

    Examples:
        >>> import tempfile
        >>> from cyclr import CyclicSchedule
        >>> fig = plot_schedules(CyclicSchedule(0.001, 0.006, 20), 100)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_figure(fig, Path(folder) / "lr.png").name
        'lr.png'

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    from ._io import save_figure as _save

    return _save(fig, path, overwrite=overwrite, **savefig_kwargs)


def plot_schedules(
    schedules: Schedule | Sequence[Schedule] | Mapping[str, Schedule],
    iterations: int,
    *,
    momentum: tuple[float, float] | None = (0.8, 0.9),
    mark_cycles: bool = True,
    log_y: bool = False,
    title: str | None = None,
) -> Figure:
    """Preview schedules before training: LR against iteration, one panel per schedule.

    Args:
        schedules: one schedule, a list, or a mapping from label to schedule.
        iterations: how many iterations to draw.
        momentum: ``(base_momentum, max_momentum)`` drawn on a twin axis, or None.
        mark_cycles: draw a dotted line at every cycle end of a cyclic schedule.
        log_y: logarithmic LR axis (for ``exp_range`` over many cycles).
        title: the figure's title (default: none).

    Returns:
        A matplotlib Figure, not shown.

    Raises:
        ValueError: ``iterations`` is below 1, or ``schedules`` is empty.

    Examples:
        >>> from cyclr import CyclicSchedule
        >>> fig = plot_schedules({"triangular2": CyclicSchedule(0.001, 0.006, 20, mode="triangular2")}, 200)
        >>> [ax.get_title(loc="left") for ax in fig.axes[:1]]
        ['triangular2']

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Figure 2: the triangular policy)
    """
    labelled = _labelled(schedules)
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got iterations={iterations!r}")
    steps = sample_iterations(iterations, labelled.values())
    fig = Figure(figsize=(9, 1.2 + 2.1 * len(labelled)), layout="constrained")
    axes = fig.subplots(len(labelled), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, schedule) in zip(axes, labelled.items()):
        _draw_schedule(ax, schedule, steps, momentum, mark_cycles, log_y)
        ax.set_title(label, loc="left", fontsize=10)
    axes[-1].set_xlabel("iteration")
    if title:
        fig.suptitle(title)
    return fig


def sample_iterations(iterations: int, schedules: Any = (), max_points: int = MAX_POINTS) -> np.ndarray:
    """The iterations a preview draws: all of them up to ``max_points``, else evenly spaced ones.

    A long preview is sampled, so drawing it takes bounded memory whatever
    ``iterations`` is; the turning points of cyclic schedules (cycle starts and
    peaks) are added while there are at most ``max_points`` of them, so the
    triangles keep their corners.

    Args:
        iterations: the preview's length.
        schedules: the schedules drawn; the turning points of the cyclic ones are kept.
        max_points: the most evenly spaced iterations to draw.

    Returns:
        Sorted, distinct iterations in ``0..iterations - 1``.

    Examples:
        >>> sample_iterations(5).tolist()
        [0, 1, 2, 3, 4]
        >>> len(sample_iterations(10**9, max_points=100))
        100

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    if iterations <= max_points:
        return np.arange(iterations)
    parts = [np.unique(np.linspace(0, iterations - 1, max_points).round().astype(np.int64))]
    for schedule in schedules:
        if isinstance(schedule, CyclicSchedule) and 2 * iterations / schedule.total_size <= max_points:
            starts = np.arange(0.0, iterations, schedule.total_size)
            corners = np.concatenate([starts, starts + schedule.step_size_up])
            parts.append(np.floor(corners[corners < iterations]).astype(np.int64))
    return np.unique(np.concatenate(parts))


def _labelled(schedules: Any) -> dict[str, Schedule]:
    if isinstance(schedules, Mapping):
        items = dict(schedules)
    else:
        seq = [schedules] if not isinstance(schedules, Sequence) else list(schedules)
        items = {}
        for i, schedule in enumerate(seq, start=1):
            label = _schedule_label(schedule)
            items[label if label not in items else f"{label} (#{i})"] = schedule  # equal schedules keep a panel each
    if not items:
        raise ValueError("schedules must contain at least one schedule, got none")
    return items


def _schedule_label(schedule: Schedule) -> str:
    """A panel title naming the schedule's policy and its settings."""
    if isinstance(schedule, CyclicSchedule):
        down = schedule.step_size_up if schedule.step_size_down is None else schedule.step_size_down
        extra = f", gamma={schedule.gamma:g}" if schedule.mode == "exp_range" else ""
        shape = "" if schedule.shape == "triangular" else f", {schedule.shape} wave"
        return (
            f"{schedule.mode}: {schedule.base_lr:g} to {schedule.max_lr:g}, "
            f"step size {schedule.step_size_up:g}/{down:g}{extra}{shape}"
        )
    if isinstance(schedule, OneCycleSchedule):
        return f"1cycle: max_lr {schedule.max_lr:g}, {schedule.total_steps} steps"
    return type(schedule).__name__


def _draw_schedule(
    ax: Axes,
    schedule: Schedule,
    steps: np.ndarray,
    momentum: tuple[float, float] | None,
    mark_cycles: bool,
    log_y: bool,
) -> None:
    # both raise past their last step: draw up to it
    if isinstance(schedule, OneCycleSchedule):
        steps = steps[steps <= schedule.total_steps]
    elif isinstance(schedule, RangeSweep):
        steps = steps[steps < schedule.num_iter]
    ax.plot(steps, schedule(steps), color=LR_COLOR, lw=1.5)
    ax.set_ylabel("learning rate", color=LR_COLOR)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if mark_cycles and isinstance(schedule, CyclicSchedule) and steps[-1] / schedule.total_size <= MAX_CYCLE_MARKS:
        for end in np.arange(schedule.total_size, steps[-1] + 1, schedule.total_size):
            ax.axvline(end, color="0.5", ls=":", lw=1)
    if momentum is not None and hasattr(schedule, "momentum"):
        twin = ax.twinx()
        twin.plot(steps, schedule.momentum(steps, *momentum), color=MOMENTUM_COLOR, lw=1, ls="--")
        twin.set_ylabel("momentum", color=MOMENTUM_COLOR)


# --- the LR range test -------------------------------------------------------------

LOSS_COLOR = "tab:blue"
METRIC_COLORS = ("tab:green", "tab:purple", "tab:brown", "tab:olive")
BOUNDS_COLOR = "tab:orange"
STOP_COLOR = "tab:red"


def plot_range_test(
    result: Any,
    bounds: Any = "auto",
    *,
    log_x: bool | None = None,
    show_coarse: bool = True,
    title: str | None = None,
) -> Figure:
    """A range test's curve: loss (raw and smoothed) and metrics against LR.

    Args:
        result: a :class:`cyclr.RangeTestResult`.
        bounds: a :class:`cyclr.Bounds` to shade, ``"auto"`` for ``result.suggest()``
            (a curve without a usable signal says so in the title), or None.
        log_x: logarithmic LR axis; default: log for an exponential sweep.
        show_coarse: add a panel with the automatic mode's coarse exponential sweep.
        title: the figure's title (default: the stop reason and the number of steps).

    Returns:
        A matplotlib Figure: loss against LR, a panel of metrics if any were
        recorded, and the coarse sweep if asked for and present; not shown.

    Raises:
        ValueError: ``bounds`` is a string other than ``"auto"``.

    Examples:
        >>> import numpy as np
        >>> from cyclr import RangeSweep, RangeTestRecorder
        >>> recorder = RangeTestRecorder(RangeSweep(1e-4, 1.0, 50, "exp"))
        >>> stopped = [recorder.record_loss(2.0 - np.sin(np.pi * i / 50)) for i in range(50)]
        >>> fig = plot_range_test(recorder.result())
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_xscale()
        ('learning rate', 'log')

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.3, Figure 3: the range test)
    """
    from .suggest import NoSuggestionError

    note = ""
    if isinstance(bounds, str):
        if bounds != "auto":
            raise ValueError(f"bounds must be a Bounds, 'auto' or None, got bounds={bounds!r}")
        try:
            bounds = result.suggest()
        except NoSuggestionError as exc:
            bounds, note = None, f"no suggestion: {exc}"
    log = result.log_scale if log_x is None else bool(log_x)
    metric_names = [n for n in result.metrics if n != "val_loss"]
    coarse = result.coarse if show_coarse else None
    rows = 1 + bool(metric_names) + (coarse is not None)
    fig = Figure(figsize=(8, 1.5 + 2.6 * rows), layout="constrained")
    axes = list(fig.subplots(rows, 1, squeeze=False)[:, 0])
    main = axes[: 1 + bool(metric_names)]
    for ax in main[1:]:
        ax.sharex(main[0])
    _draw_losses(main[0], result)
    if metric_names:
        for name, color in zip(metric_names, METRIC_COLORS * 4):
            main[1].plot(result.metric_lrs, result.metrics[name], "o-", ms=3, lw=1, color=color, label=name)
        main[1].set_ylabel("metric")
        main[1].legend(loc="best", fontsize=8)
    for ax in main:
        _mark_range_test(ax, result, bounds, log)
    main[-1].set_xlabel("learning rate")
    if coarse is not None:
        ax = axes[-1]
        _draw_losses(ax, coarse)
        _mark_range_test(ax, coarse, None, True)
        if result.lrs.size:
            ax.axvline(result.lrs[-1], color="0.3", ls="-.", lw=1, label="end of the linear sweep")
        ax.set_title("coarse exponential sweep (chose the range above)", loc="left", fontsize=9)
        ax.set_xlabel("learning rate")
        ax.legend(loc="best", fontsize=8)
    headline = title or f"LR range test ({result.stop_reason}, {len(result)} steps)"
    if bounds is not None:
        headline += f"\nbase_lr={bounds.base_lr:.3g}, max_lr={bounds.max_lr:.3g} ({bounds.method})"
    elif note:
        headline += "\n" + note
    fig.suptitle(headline, fontsize=10)
    return fig


def _draw_losses(ax: Axes, result: Any) -> None:
    from .suggest import smooth

    centred = smooth(result.losses)
    ax.plot(result.lrs, result.losses, color=LOSS_COLOR, alpha=0.3, lw=0.8, label="loss")
    ax.plot(result.lrs, centred, color=LOSS_COLOR, lw=1.6, label="loss, centred smoothing (read)")
    ax.plot(result.lrs, result.smoothed_losses, color=LOSS_COLOR, lw=0.8, ls=":", label="loss EMA (divergence check)")
    if "val_loss" in result.metrics:
        ax.plot(result.metric_lrs, result.metrics["val_loss"], "o-", ms=3, lw=1, color="tab:cyan", label="val_loss")
    finite = centred[np.isfinite(centred)]
    if finite.size:
        # a diverging tail would squash the interesting part of the curve
        low, start = float(finite.min()), float(finite[: max(1, finite.size // 10)].mean())
        high = max(start, low) * 1.5 if start > 0 else float(finite.max())
        margin = 0.05 * (high - low) if high > low else 1.0
        ax.set_ylim(low - margin, high + margin)
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def _mark_range_test(ax: Axes, result: Any, bounds: Any, log: bool) -> None:
    if log:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    if bounds is not None:
        ax.axvspan(bounds.base_lr, bounds.max_lr, color=BOUNDS_COLOR, alpha=0.2, lw=0)
        for lr in (bounds.base_lr, bounds.max_lr):
            ax.axvline(lr, color=BOUNDS_COLOR, lw=1)
    stop = result.stop_lr
    if stop is not None and result.stop_reason in ("diverged", "non_finite"):
        ax.axvline(stop, color=STOP_COLOR, ls="--", lw=1)
        ax.annotate(result.stop_reason.replace("_", "-"), (stop, 1), xycoords=("data", "axes fraction"),
                    xytext=(-3, -3), textcoords="offset points", ha="right", va="top", color=STOP_COLOR, fontsize=8)


def __getattr__(name: str) -> Any:
    # The experiment's figure lives with the experiment; the old import path keeps
    # working without making this module import the application.
    if name == "plot_reproduction":
        from .reproduce.figures import plot_reproduction

        return plot_reproduction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
