"""The paper's Table-1 experiment on a bundled task: ``cyclr reproduce``.

1. A range test (:class:`cyclr.torch.LRFinder`) on the training split, read on
   validation accuracy, gives ``(base_lr, max_lr)``; the half-cycle is
   ``epochs_per_step`` epochs (the paper's 2-10).
2. Every policy trains for the same budget (whole cycles) from the same seeds:
   ``fixed`` (the constant LR of a small grid around the bounds with the best
   validation accuracy), ``fixed_steps``, ``triangular``, ``triangular2``,
   ``exp_range``, ``decay`` and ``exp``.
3. Test accuracy is measured along the way (every cycle end included) and
   averaged over seeds; the report compares how soon each policy reaches the
   fixed LR's final accuracy.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _validate as check
from .report import print_summary, report_markdown, summary_table, write_outputs
from ..schedules import CyclicSchedule, cycle_aligned_iterations, recommended_step_size

__all__ = [
    "POLICIES",
    "Plan",
    "check_budget",
    "check_range_test_epochs",
    "make_plan",
    "print_summary",
    "range_test_on_task",
    "report_markdown",
    "run_reproduction",
    "summary_table",
    "write_outputs",
]

POLICIES = ("fixed", "fixed_steps", "triangular", "triangular2", "exp_range", "decay", "exp")
CYCLIC_POLICIES = ("triangular", "triangular2", "exp_range")
# exp_range's amplitude (and exp's LR) falls to this fraction by the end of the
# budget: the paper's gamma=0.99994 over its 70,000 iterations gives 0.015.
END_DECAY = 0.99994**70_000
# fixed_steps drops the LR x0.1 where Caffe's CIFAR-10 schedule does: at 60k and 65k of 70k.
STEP_DROPS = (60 / 70, 65 / 70)
# The fixed grid, as multiples of the bounds: one LR below base_lr, the bounds,
# their geometric mean, and one above max_lr.
GRID_BELOW, GRID_ABOVE = 0.5, 2.0
EVALS_PER_STEP = 8
# A budget past this is a typo, not an experiment (the paper's longest is 70,000
# iterations), and would exhaust memory in the per-iteration LR arrays.
MAX_ITERATIONS = 1_000_000

POLICY_DEFINITIONS = {
    "fixed": "the constant LR of the grid with the best final validation accuracy",
    "fixed_steps": "that constant LR, x0.1 at 6/7 and again at 13/14 of the budget (Caffe's CIFAR-10 schedule)",
    "triangular": "base_lr -> max_lr -> base_lr every cycle",
    "triangular2": "the same, with the amplitude halved every cycle",
    "exp_range": "the same, with the amplitude times gamma**iteration",
    "decay": "max_lr falling linearly to base_lr over one step size, then flat",
    "exp": "the fixed LR times gamma**iteration",
}


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything fixed before the policies train: bounds, step size, budget, grid."""

    base_lr: float
    max_lr: float
    step_size: int
    iterations: int
    gamma: float
    fixed_grid: tuple[float, ...]
    points: tuple[int, ...]

    @property
    def cycle_ends(self) -> list[int]:
        return list(range(2 * self.step_size, self.iterations + 1, 2 * self.step_size))

    def learning_rates(self, policy: str, fixed_lr: float) -> np.ndarray:
        """The LR of every update of ``policy`` (``fixed_lr``: the grid's winner)."""
        it = np.arange(self.iterations)
        base, peak, step = self.base_lr, self.max_lr, self.step_size
        if policy == "fixed":
            return np.full(self.iterations, fixed_lr)
        if policy == "fixed_steps":
            drops = sum((it >= self._on_grid(f * self.iterations)).astype(int) for f in STEP_DROPS)
            return fixed_lr * 0.1**drops
        if policy in CYCLIC_POLICIES:
            gamma = self.gamma if policy == "exp_range" else 1.0
            return np.asarray(CyclicSchedule(base, peak, step, mode=policy, gamma=gamma)(it))
        if policy == "decay":
            return np.where(it < step, peak - (peak - base) * it / step, base)
        if policy == "exp":
            return fixed_lr * self.gamma**it
        raise ValueError(f"policy must be one of {', '.join(map(repr, POLICIES))}; got policy={policy!r}")

    def _on_grid(self, iteration: float) -> int:
        """The evaluation point nearest ``iteration``, so a drop shows as a step in the curves."""
        return min(self.points, key=lambda p: abs(p - iteration))


def check_budget(epochs: int, epochs_per_step: float, iterations_per_epoch: int) -> int:
    """The step size in iterations; ValueError unless ``epochs`` hold at least one whole cycle of it
    and at most :data:`MAX_ITERATIONS` iterations.

    The step size is rounded to whole iterations, so a budget of exactly
    ``2 * epochs_per_step`` epochs can fall one iteration short of a cycle.
    """
    ipe = check.positive_int("iterations_per_epoch", iterations_per_epoch)
    per_step = check.positive("epochs_per_step", epochs_per_step)
    if per_step * ipe > MAX_ITERATIONS:
        raise ValueError(
            f"epochs_per_step must give a step size of at most {MAX_ITERATIONS:,} iterations "
            f"({ipe} per epoch), got epochs_per_step={epochs_per_step!r}"
        )
    step = recommended_step_size(ipe, per_step)
    budget = check.positive_int("epochs", epochs) * ipe
    if budget > MAX_ITERATIONS:
        raise ValueError(
            f"epochs must give at most {MAX_ITERATIONS:,} iterations ({ipe} per epoch), "
            f"got epochs={epochs} ({budget:,} iterations)"
        )
    if budget < 2 * step:
        raise ValueError(
            f"epochs must cover at least one cycle (2 * epochs_per_step = {2 * epochs_per_step:g} epochs = "
            f"{2 * step} iterations of {iterations_per_epoch} per epoch), got epochs={epochs} ({budget} iterations)"
        )
    return step


def check_range_test_epochs(epochs: int, iterations_per_epoch: int) -> int:
    """The range test's length in iterations; ValueError past :data:`MAX_ITERATIONS`."""
    num_iter = check.positive_int("range_test_epochs", epochs) * iterations_per_epoch
    if num_iter > MAX_ITERATIONS:
        raise ValueError(
            f"range_test_epochs must give at most {MAX_ITERATIONS:,} iterations ({iterations_per_epoch} per epoch), "
            f"got range_test_epochs={epochs} ({num_iter:,} iterations)"
        )
    return num_iter


def make_plan(base_lr: float, max_lr: float, iterations_per_epoch: int, epochs: int, epochs_per_step: float) -> Plan:
    """Step size per the paper, the budget rounded down to whole cycles, the fixed-LR grid."""
    step = check_budget(epochs, epochs_per_step, iterations_per_epoch)
    budget = epochs * iterations_per_epoch
    iterations = cycle_aligned_iterations(budget, step)
    every = max(1, step // EVALS_PER_STEP)
    cycle_ends = range(0, iterations + 1, 2 * step)
    peaks = range(step, iterations + 1, 2 * step)
    from .training import evaluation_points

    points = evaluation_points(iterations, every, [*cycle_ends, *peaks])
    grid = (base_lr * GRID_BELOW, base_lr, math.sqrt(base_lr * max_lr), max_lr, max_lr * GRID_ABOVE)
    return Plan(
        base_lr=base_lr,
        max_lr=max_lr,
        step_size=step,
        iterations=iterations,
        gamma=END_DECAY ** (1.0 / iterations),
        fixed_grid=tuple(dict.fromkeys(grid)),
        points=tuple(points),
    )


# --- running -----------------------------------------------------------------------


def range_test_on_task(task: Any, seed: int = 0, epochs: int | None = None, progress: bool = True) -> Any:
    """The automatic range test (coarse exponential sweep, then the paper's linear one) on ``task``.

    The linear sweep lasts ``epochs`` (default: the task's ``range_test_epochs``)
    and measures validation accuracy about 50 times.
    """
    from .find import run_range_test, subject_from_task

    epochs = task.range_test_epochs if epochs is None else check.positive_int("epochs", epochs)
    num_iter = check_range_test_epochs(epochs, task.iterations_per_epoch)
    return run_range_test(subject_from_task(task, seed), num_iter, None, None, None, progress)


def run_reproduction(
    task_name: str = "digits",
    seeds: int = 3,
    *,
    epochs: int | None = None,
    range_test_epochs: int | None = None,
    epochs_per_step: float | None = None,
    progress: bool = True,
    num_threads: int | None = 1,
) -> dict[str, Any]:
    """Run the experiment; return the results (the content of ``results.json``, plus the range test).

    Args:
        task_name: a name from :func:`cyclr.tasks.available_tasks`.
        seeds: runs per policy; seed ``s`` fixes the initial weights and the batch order.
        epochs, range_test_epochs, epochs_per_step: override the task's recipe
            (small values make a quick smoke run).
        num_threads: torch's intra-op threads while it runs (None: unchanged); one
            is fastest for the bundled models.
    """
    from .training import torch_threads

    with torch_threads(num_threads):
        return _run(task_name, seeds, epochs, range_test_epochs, epochs_per_step, progress)


def _run(
    task_name: str,
    seeds: int,
    epochs: int | None,
    range_test_epochs: int | None,
    epochs_per_step: float | None,
    progress: bool,
) -> dict[str, Any]:
    from .tasks import load_task

    n_seeds = check.positive_int("seeds", seeds)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {progress!r}")
    task = load_task(task_name)
    epochs_arg, per_step_arg = epochs, epochs_per_step
    epochs = task.epochs if epochs is None else check.positive_int("epochs", epochs)
    rt_epochs = (
        task.range_test_epochs
        if range_test_epochs is None
        else check.positive_int("range_test_epochs", range_test_epochs)
    )
    per_step = task.epochs_per_step if epochs_per_step is None else check.positive("epochs_per_step", epochs_per_step)
    ipe = task.iterations_per_epoch
    check_budget(epochs, per_step, ipe)  # before the range test, which takes a while
    check_range_test_epochs(rt_epochs, ipe)

    started = time.perf_counter()
    range_test = range_test_on_task(task, seed=0, epochs=rt_epochs, progress=progress)
    bounds = range_test.suggest()
    range_test_seconds = time.perf_counter() - started

    plan = make_plan(bounds.base_lr, bounds.max_lr, ipe, epochs, per_step)
    seed_list = list(range(n_seeds))
    runs = len(plan.fixed_grid) + len(POLICIES) - 1
    bar = _progress_bar(progress, runs * n_seeds * plan.iterations)
    try:
        grid = {
            lr: _train_seeds(task, plan, plan.learning_rates("fixed", lr), seed_list, bar, f"fixed {lr:.3g}")
            for lr in plan.fixed_grid
        }
        # Chosen on validation accuracy only, so the test split stays untouched by the choice.
        fixed_lr = max(grid, key=lambda lr: float(np.mean(grid[lr]["val"][:, -1])))
        curves = {"fixed": grid[fixed_lr]}
        for policy in POLICIES[1:]:
            curves[policy] = _train_seeds(task, plan, plan.learning_rates(policy, fixed_lr), seed_list, bar, policy)
    finally:
        bar.close()
    total_seconds = time.perf_counter() - started

    results = summarise(task, plan, bounds, fixed_lr, grid, curves, seed_list)
    overrides = {"epochs": epochs_arg, "epochs-per-step": per_step_arg, "range-test-epochs": range_test_epochs}
    results["command"] = f"cyclr reproduce --task {task.name} --seeds {n_seeds}" + "".join(
        f" --{flag} {value:g}" for flag, value in overrides.items() if value is not None
    )
    results["settings"] = {
        "epochs": epochs,
        "epochs_per_step": per_step,
        "range_test_epochs": rt_epochs,
        "iterations_per_epoch": ipe,
        "batch_size": task.batch_size,
        "split_sizes": {"train": len(task.train), "val": len(task.val), "test": len(task.test)},
        "optimizer": f"SGD(momentum={task.momentum:g}, weight_decay={task.weight_decay:g})",
    }
    results["runtime_seconds"] = {
        "range_test": round(range_test_seconds, 2),
        "training": round(total_seconds - range_test_seconds, 2),
        "total": round(total_seconds, 2),
    }
    results["range_test"] = range_test
    return results


def _train_seeds(
    task: Any, plan: Plan, lrs: np.ndarray, seeds: Sequence[int], bar: Any, label: str
) -> dict[str, np.ndarray]:
    from .training import train

    bar.set_description(label)
    runs = [train(task, lrs, seed, list(plan.points), progress=bar.update) for seed in seeds]
    return {
        "test": np.array([r.test_accuracy for r in runs]),
        "val": np.array([r.val_accuracy for r in runs]),
        "lr": lrs[np.minimum(np.array(plan.points), plan.iterations - 1)],
        "diverged": np.array([r.diverged_at is not None for r in runs]),
    }


def _progress_bar(enabled: bool, total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="it", leave=False, dynamic_ncols=True)


# --- summary ------------------------------------------------------------------------


def iterations_to_reach(iterations: Sequence[int], accuracy: Sequence[float], target: float) -> int | None:
    """The first iteration where ``accuracy`` is at least ``target`` (None if never)."""
    for it, acc in zip(iterations, accuracy):
        if acc >= target - 1e-12:  # the target is itself an average of the same sums
            return int(it)
    return None


def summarise(
    task: Any,
    plan: Plan,
    bounds: Any,
    fixed_lr: float,
    grid: Mapping[float, Mapping[str, np.ndarray]],
    curves: Mapping[str, Mapping[str, np.ndarray]],
    seeds: Sequence[int],
) -> dict[str, Any]:
    """The JSON-able results: per-policy curves and finals, the target, the speedups."""
    points = list(plan.points)
    cycle_index = [points.index(end) for end in plan.cycle_ends]
    target = float(np.mean(curves["fixed"]["test"][:, -1]))
    policies: dict[str, Any] = {}
    for name, curve in curves.items():
        test = curve["test"]
        mean = test.mean(axis=0)
        policies[name] = {
            "definition": POLICY_DEFINITIONS[name],
            "iterations": plan.iterations,
            "accuracy_mean": float(mean[-1]),
            "accuracy_std": _std(test[:, -1]),
            "accuracies": [float(a) for a in test[:, -1]],
            "iterations_to_target": iterations_to_reach(points, mean, target),
            "diverged_runs": int(curve["diverged"].sum()),
            "accuracy_at_cycle_ends": [float(mean[i]) for i in cycle_index],
            "curve": {
                "iterations": points,
                "accuracy_mean": [float(v) for v in mean],
                "accuracy_std": [_std(test[:, i]) for i in range(test.shape[1])],
                "accuracy_per_seed": test.tolist(),
                "lr": [float(v) for v in curve["lr"]],
            },
        }
    fixed_hit = policies["fixed"]["iterations_to_target"]
    for entry in policies.values():
        hit = entry["iterations_to_target"]
        entry["speedup"] = fixed_hit / hit if fixed_hit and hit else None
    reached = {p: policies[p]["iterations_to_target"] for p in CYCLIC_POLICIES if policies[p]["iterations_to_target"]}
    best = min(reached, key=lambda p: (reached[p], -policies[p]["accuracy_mean"])) if reached else None
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
        "fixed_lr_grid": [
            {
                "lr": lr,
                "val_accuracy_mean": float(np.mean(runs["val"][:, -1])),
                "test_accuracy_mean": float(np.mean(runs["test"][:, -1])),
                "diverged_runs": int(runs["diverged"].sum()),
            }
            for lr, runs in grid.items()
        ],
        "target_accuracy": target,
        "policies": policies,
        "best_cyclic_policy": best,
        "speedup": policies[best]["speedup"] if best else None,
    }


def _std(values: np.ndarray) -> float:
    """Sample standard deviation across seeds (0 for one seed)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
