"""The experiment's results as JSON-able data: per-policy curves and finals, the target, the speedups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .plan import CYCLIC_POLICIES, POLICY_DEFINITIONS, TrainingPlan

__all__ = ["iterations_to_reach", "summarise"]

# One policy's (or one grid LR's) measurements over seeds: "test", "val", "lr", "diverged".
Curves = Mapping[str, np.ndarray]


def iterations_to_reach(
    iterations: Sequence[int], accuracy: Sequence[float], target: float, higher_is_better: bool = True
) -> int | None:
    """The first iteration at which ``accuracy`` (or a loss) reaches ``target``.

    Args:
        iterations: the evaluation points.
        accuracy: the metric measured at each point.
        target: the value to reach.
        higher_is_better: False for a loss: reaching means falling to ``target`` or below.

    Returns:
        The first of ``iterations`` whose value is at least (for a loss: at most) ``target``, or None if none is.

    Examples:
        >>> iterations_to_reach([0, 10, 20], [0.5, 0.8, 0.9], target=0.8)
        10
        >>> iterations_to_reach([0, 10, 20], [0.5, 0.8, 0.9], target=0.95) is None
        True
        >>> iterations_to_reach([0, 10, 20], [2.0, 0.7, 0.3], target=0.5, higher_is_better=False)
        20
    """
    sign = 1.0 if higher_is_better else -1.0
    for iteration, value in zip(iterations, accuracy):
        if sign * value >= sign * target - 1e-12 * max(1.0, abs(target)):  # the target is an average of the same sums
            return int(iteration)
    return None


def summarise(
    task: Any,
    plan: TrainingPlan,
    bounds: Any,
    fixed_lr: float,
    grid: Mapping[float, Curves],
    curves: Mapping[str, Curves],
    seeds: Sequence[int],
) -> dict[str, Any]:
    """The JSON-able results of a run (``results.json`` without the command, settings and runtime).

    Args:
        task: the task trained on (its ``name`` and ``description`` are used).
        plan: the plan the policies followed.
        bounds: the :class:`cyclr.Bounds` the range test gave.
        fixed_lr: the constant LR chosen from the grid.
        grid: for each constant LR of the grid, its curves (``"test"``, ``"val"``, ``"diverged"``).
        curves: for each policy, its curves: ``"test"`` and ``"val"`` accuracy
            (one row per seed, one column per evaluation point), ``"lr"`` at each
            point and ``"diverged"`` per seed.
        seeds: the seeds the runs used.

    Returns:
        The results: ``bounds``, ``step_size``, ``iterations``, ``cycle_ends``,
        ``gamma``, ``fixed_lr`` and ``fixed_lr_grid``, ``target_accuracy`` (the
        ``fixed`` policy's final test accuracy), ``policies`` (per policy: final
        accuracy, iterations to target, speedup, curve) and the
        ``best_cyclic_policy`` with its ``speedup``, and ``metric``: ``{"name", "higher_is_better"}``.
        The ``accuracy`` keys hold the task's metric: accuracy for the bundled
        tasks, the loss for a regression task (``metric["name"] == "loss"``).

    Examples:
        >>> from types import SimpleNamespace
        >>> import numpy as np
        >>> from cyclr import Bounds
        >>> from cyclr.reproduce import POLICIES, make_plan
        >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=4, epochs=4, epochs_per_step=1)
        >>> rising = np.linspace(0.5, 0.9, len(plan.points))[None]  # one seed
        >>> curve = {"test": rising, "val": rising, "lr": np.full(rising.shape[1], 0.02), "diverged": np.zeros(1, bool)}
        >>> task = SimpleNamespace(name="toy", description="a toy task")
        >>> bounds = Bounds(0.01, 0.04, "valley", "set by hand")
        >>> results = summarise(task, plan, bounds, 0.02, {0.02: curve}, dict.fromkeys(POLICIES, curve), [0])
        >>> results["target_accuracy"], results["best_cyclic_policy"], results["speedup"]
        (0.9, 'triangular', 1.0)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Table 1: iterations to the fixed LR's accuracy).
    """
    metric = getattr(task, "metric", "accuracy")
    higher = metric == "accuracy"
    target = float(np.mean(curves["fixed"]["test"][:, -1]))
    policies = {name: _policy_summary(name, curve, plan, target, higher) for name, curve in curves.items()}
    fixed_hit = policies["fixed"]["iterations_to_target"]
    for entry in policies.values():
        hit = entry["iterations_to_target"]
        entry["speedup"] = fixed_hit / hit if fixed_hit and hit else None
    steps_target, steps_hits = _speedups_against(curves, plan, "fixed_steps", higher) if "fixed_steps" in curves else (None, {})
    for name, entry in policies.items():
        entry["speedup_vs_fixed_steps"] = steps_hits.get(name)
    best = _best_cyclic_policy(policies, higher)
    return {
        "task": task.name,
        "task_description": task.description,
        "seeds": list(seeds),
        "bounds": {
            "base_lr": bounds.base_lr,
            "max_lr": bounds.max_lr,
            "method": bounds.method,
            "explanation": bounds.explanation,
            "warnings": list(bounds.warnings),
        },
        "step_size": plan.step_size,
        "iterations": plan.iterations,
        "cycle_ends": plan.cycle_ends,
        "gamma": plan.gamma,
        "fixed_lr": fixed_lr,
        "fixed_lr_grid": [_grid_summary(lr, runs) for lr, runs in grid.items()],
        "target_accuracy": target,
        "policies": policies,
        "best_cyclic_policy": best,
        "speedup": policies[best]["speedup"] if best else None,
        "target_fixed_steps": steps_target,
        "speedup_vs_fixed_steps": policies[best]["speedup_vs_fixed_steps"] if best else None,
        "metric": {"name": metric, "higher_is_better": higher},
    }


def _speedups_against(
    curves: Mapping[str, Curves], plan: TrainingPlan, baseline: str, higher: bool
) -> tuple[float, dict[str, float | None]]:
    """Each policy's speedup to ``baseline``'s own final level: baseline's iterations to it over the policy's.

    The paper's Table 1 compares against a constant LR with late drops (``fixed_steps``), as well as
    against the best constant (``fixed``); this gives the former.
    """
    points = list(plan.points)
    target = float(np.mean(curves[baseline]["test"][:, -1]))
    hits = {name: iterations_to_reach(points, curve["test"].mean(axis=0), target, higher) for name, curve in curves.items()}
    own = hits[baseline]
    return target, {name: (own / hit if own and hit else None) for name, hit in hits.items()}


def _policy_summary(name: str, curve: Curves, plan: TrainingPlan, target: float, higher: bool) -> dict[str, Any]:
    """One policy's entry in ``results["policies"]``, without its speedup."""
    points = list(plan.points)
    test = curve["test"]
    mean = test.mean(axis=0)
    return {
        "definition": POLICY_DEFINITIONS[name],
        "iterations": plan.iterations,
        "accuracy_mean": float(mean[-1]),
        "accuracy_std": _std(test[:, -1]),
        "accuracies": [float(a) for a in test[:, -1]],
        "iterations_to_target": iterations_to_reach(points, mean, target, higher),
        "diverged_runs": int(curve["diverged"].sum()),
        "accuracy_at_cycle_ends": [float(mean[points.index(end)]) for end in plan.cycle_ends],
        "curve": {
            "iterations": points,
            "accuracy_mean": [float(v) for v in mean],
            "accuracy_std": [_std(test[:, i]) for i in range(test.shape[1])],
            "accuracy_per_seed": test.tolist(),
            "lr": [float(v) for v in curve["lr"]],
        },
    }


def _best_cyclic_policy(policies: Mapping[str, Mapping[str, Any]], higher: bool = True) -> str | None:
    """The cyclic policy that reached the target first (the better final metric on a tie), or None."""
    reached = {p: policies[p]["iterations_to_target"] for p in CYCLIC_POLICIES if policies[p]["iterations_to_target"]}
    if not reached:
        return None
    sign = -1.0 if higher else 1.0
    return min(reached, key=lambda p: (reached[p], sign * policies[p]["accuracy_mean"]))


def _grid_summary(lr: float, runs: Curves) -> dict[str, Any]:
    """One constant LR of the fixed grid: its final accuracies, mean over seeds."""
    return {
        "lr": lr,
        "val_accuracy_mean": float(np.mean(runs["val"][:, -1])),
        "test_accuracy_mean": float(np.mean(runs["test"][:, -1])),
        "diverged_runs": int(runs["diverged"].sum()),
    }


def _std(values: np.ndarray) -> float:
    """Sample standard deviation across seeds (0 for one seed)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
