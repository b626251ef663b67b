"""Figures (matplotlib, the ``plot`` extra). Every function returns a Figure and never shows it.

Figures are built on ``matplotlib.figure.Figure`` directly, without pyplot, so
they work headless and leave the user's pyplot state alone. Save with
``fig.savefig("name.png")``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .schedules import CyclicSchedule, OneCycleSchedule, Schedule

__all__ = ["plot_schedules"]

LR_COLOR = "tab:blue"
MOMENTUM_COLOR = "tab:orange"


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
    """
    labelled = _labelled(schedules)
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got iterations={iterations!r}")
    steps = np.arange(iterations)
    fig = Figure(figsize=(9, 1.2 + 2.1 * len(labelled)), layout="constrained")
    axes = fig.subplots(len(labelled), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, schedule) in zip(axes, labelled.items()):
        _draw_schedule(ax, schedule, steps, momentum, mark_cycles, log_y)
        ax.set_title(label, loc="left", fontsize=10)
    axes[-1].set_xlabel("iteration")
    if title:
        fig.suptitle(title)
    return fig


def _labelled(schedules: Any) -> dict[str, Schedule]:
    if isinstance(schedules, Mapping):
        items = dict(schedules)
    else:
        seq = [schedules] if not isinstance(schedules, Sequence) else list(schedules)
        items = {_describe(s): s for s in seq}
    if not items:
        raise ValueError("schedules must contain at least one schedule, got none")
    return items


def _describe(schedule: Schedule) -> str:
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
    if isinstance(schedule, OneCycleSchedule):
        steps = steps[steps <= schedule.total_steps]
    ax.plot(steps, schedule(steps), color=LR_COLOR, lw=1.5)
    ax.set_ylabel("learning rate", color=LR_COLOR)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if mark_cycles and isinstance(schedule, CyclicSchedule):
        for end in np.arange(schedule.total_size, steps[-1] + 1, schedule.total_size):
            ax.axvline(end, color="0.5", ls=":", lw=1)
    if momentum is not None and hasattr(schedule, "momentum"):
        twin = ax.twinx()
        twin.plot(steps, schedule.momentum(steps, *momentum), color=MOMENTUM_COLOR, lw=1, ls="--")
        twin.set_ylabel("momentum", color=MOMENTUM_COLOR)
