"""The experiment's figure: every policy's test accuracy and learning rate against iteration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..plot import METRIC_COLORS

__all__ = ["POLICY_COLORS", "plot_reproduction"]

# fixed and the cyclic policies in the colours the docs' figure uses; unknown names take METRIC_COLORS.
POLICY_COLORS = {
    "fixed": "black",
    "fixed_steps": "0.55",
    "triangular": "tab:blue",
    "triangular2": "tab:orange",
    "exp_range": "tab:green",
    "decay": "tab:purple",
    "exp": "tab:brown",
}


def plot_reproduction(results: Mapping[str, Any], *, title: str | None = None) -> Figure:
    """Seed-mean test accuracy against iteration for every policy, with each policy's LR beneath.

    Args:
        results: what :func:`cyclr.reproduce.run_reproduction` returns (or ``results.json`` loaded):
            ``policies`` maps a name to ``{"curve": {"iterations", "accuracy_mean", "accuracy_std", "lr"}}``;
            ``target_accuracy`` (drawn dashed) and ``cycle_ends`` (dotted) are optional; with
            ``metric["name"] == "loss"`` the values are losses, drawn as they are.
        title: the figure's title (default: names the task).

    Returns:
        A matplotlib Figure with two panels (accuracy in %, learning rate), not shown.

    Raises:
        ValueError: ``results`` names no policy.

    Examples:
        >>> results = {"policies": {"fixed": {"curve": {
        ...     "iterations": [0, 50, 100], "accuracy_mean": [0.1, 0.8, 0.9], "lr": [0.01, 0.01, 0.01]}}},
        ...     "target_accuracy": 0.9, "cycle_ends": [100]}
        >>> fig = plot_reproduction(results)
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['test accuracy (%)', 'learning rate']

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Figure 1: accuracy of CLR against a fixed LR).
    """
    policies = results.get("policies") or {}
    if not policies:
        raise ValueError("results['policies'] must name at least one policy with a curve")
    is_loss = (results.get("metric") or {}).get("name") == "loss"
    scale = 1.0 if is_loss else 100.0
    fig = Figure(figsize=(9, 7), layout="constrained")
    acc_ax, lr_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    extra = iter(METRIC_COLORS * 4)
    for name, entry in policies.items():
        curve = entry["curve"]
        its = np.asarray(curve["iterations"])
        mean = scale * np.asarray(curve["accuracy_mean"])
        std = scale * np.asarray(curve.get("accuracy_std", np.zeros_like(mean)))
        color = POLICY_COLORS.get(name) or next(extra)
        # fixed on top and fixed_steps dashed: they coincide until the first drop
        style = {"color": color, "ls": "--" if name == "fixed_steps" else "-", "zorder": 3 if name == "fixed" else 2}
        acc_ax.plot(its, mean, lw=1.4, label=name, **style)
        acc_ax.fill_between(its, mean - std, mean + std, color=color, alpha=0.12, lw=0)
        lr_ax.plot(its, curve["lr"], lw=1.2, label=name, **style)
    target = results.get("target_accuracy")
    if target is not None and is_loss:
        acc_ax.axhline(target, color="black", ls="--", lw=0.9, label=f"target {target:.4g}")
    elif target is not None:
        acc_ax.axhline(100 * target, color="black", ls="--", lw=0.9, label=f"target {100 * target:.2f}%")
        # the interesting part is the approach to the target, not the first few iterations near chance
        tails = [e["curve"]["accuracy_mean"] for e in policies.values()]
        low = 100 * min(min(t[len(t) // 10 :]) for t in tails)
        acc_ax.set_ylim(max(0.0, low - 1.0), min(100.0, 100 * target + 3.0))
    for ax in (acc_ax, lr_ax):
        for end in results.get("cycle_ends", ()):
            ax.axvline(end, color="0.7", ls=":", lw=0.8)
        ax.grid(alpha=0.3)
    acc_ax.set_ylabel("test loss" if is_loss else "test accuracy (%)")
    acc_ax.legend(loc="upper right" if is_loss else "lower right", fontsize=8, ncol=2)
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("iteration")
    task = results.get("task")
    fig.suptitle(title or f"CLR policies vs fixed LR{f' on {task}' if task else ''}: mean over seeds", fontsize=10)
    return fig
