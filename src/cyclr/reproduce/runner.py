"""Running the paper's Table-1 experiment on a bundled task: ``cyclr reproduce``.

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
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _validate as check
from . import find
from .plan import POLICIES, TrainingPlan, check_budget, check_range_test_epochs, make_plan
from .summary import summarise

__all__ = ["range_test_on_task", "run_reproduction"]


def range_test_on_task(task: Any, seed: int = 0, epochs: int | None = None, progress: bool = True) -> Any:
    """The automatic range test on a bundled task: a coarse exponential sweep, then the paper's linear one.

    Args:
        task: a :class:`cyclr.reproduce.tasks.Task`.
        seed: fixes the model's initial weights and the batch order.
        epochs: length of the linear sweep (default: the task's ``range_test_epochs``);
            validation accuracy is measured about 50 times along it.
        progress: show a progress bar.

    Returns:
        The :class:`cyclr.RangeTestResult`.

    Raises:
        ValueError: ``epochs`` is not positive or makes the sweep too long
            (see :func:`cyclr.reproduce.check_range_test_epochs`).

    Examples:
        >>> import torch
        >>> from cyclr.reproduce.tasks import Split, Task
        >>> inputs = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        >>> split = Split(inputs, (inputs[:, 0] > 0).long())
        >>> task = Task("toy", "two halves of a plane", split, split, split, lambda: torch.nn.Linear(2, 2),
        ...             batch_size=16, epochs=4, epochs_per_step=1, range_test_epochs=2)
        >>> result = range_test_on_task(task, progress=False)
        >>> len(result.coarse) > 0, "val_accuracy" in result.metrics
        (True, True)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.3: the range test).
    """
    epochs = task.range_test_epochs if epochs is None else check.positive_int("epochs", epochs)
    num_iter = check_range_test_epochs(epochs, task.iterations_per_epoch)
    return find.run_range_test(find.subject_from_task(task, seed), num_iter, None, None, None, progress)


def run_reproduction(
    task_name: str | Any = "digits",
    seeds: int = 3,
    *,
    epochs: int | None = None,
    range_test_epochs: int | None = None,
    epochs_per_step: float | None = None,
    progress: bool = True,
    num_threads: int | None = 1,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Run the experiment: a range test for the bounds, then every policy on the same budget and seeds.

    The budget and the range test's length are checked before anything trains.
    The default (digits, 3 seeds) takes about half a minute on 2 CPU cores.

    Args:
        task_name: a name from :func:`cyclr.reproduce.tasks.available_tasks`, or a task object
            (a :class:`~cyclr.reproduce.custom.FactoryTask`, say).
        seeds: runs per policy; seed ``s`` fixes the initial weights and the batch order.
        epochs: the training budget (default: the task's); small values make a quick smoke run.
        range_test_epochs: length of the range test's linear sweep (default: the task's).
        epochs_per_step: the half-cycle in epochs (default: the task's).
        progress: show progress bars.
        num_threads: torch's intra-op threads while it runs (None: unchanged); one
            is fastest for the bundled models.
        bounds: ``(base_lr, max_lr)`` to train with instead of running the range test.

    Returns:
        The content of ``results.json`` (see :func:`cyclr.reproduce.summary.summarise`,
        plus ``command``, ``settings`` and ``runtime_seconds``), and the
        :class:`cyclr.RangeTestResult` under ``range_test`` (None with ``bounds``).

    Raises:
        ValueError: an unknown task, a count that is not positive, or a budget
            that fails :func:`cyclr.reproduce.check_budget`.
        TypeError: ``seeds`` or an epoch count is not an int, or ``progress`` not a bool.
        cyclr.NoSuggestionError: the range test gave no bounds.

    Examples:
        What a run trains, before it trains (the digits recipe, with bounds as the range test might read them):

        >>> from cyclr.reproduce import POLICIES, make_plan
        >>> plan = make_plan(0.03, 0.3, iterations_per_epoch=63, epochs=32, epochs_per_step=4)
        >>> plan.step_size, plan.iterations, len(plan.fixed_grid) + len(POLICIES) - 1
        (252, 2016, 11)
        >>> results = run_reproduction("digits", seeds=1, epochs=2, range_test_epochs=2,
        ...                            epochs_per_step=1, progress=False)  # doctest: +SKIP

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 4.1, Table 1).
    """
    from .training import torch_threads

    with torch_threads(num_threads):
        return _run(task_name, seeds, epochs, range_test_epochs, epochs_per_step, progress, bounds)


@dataclasses.dataclass(frozen=True)
class _Recipe:
    """The task's recipe with the caller's overrides applied, and the overrides as given."""

    epochs: int
    epochs_per_step: float
    range_test_epochs: int
    overrides: dict[str, float | None]


def _recipe(task: Any, epochs: int | None, range_test_epochs: int | None, epochs_per_step: float | None) -> _Recipe:
    """Apply and check the overrides; ValueError now, before the range test, which takes a while."""
    recipe = _Recipe(
        epochs=task.epochs if epochs is None else check.positive_int("epochs", epochs),
        range_test_epochs=(
            task.range_test_epochs
            if range_test_epochs is None
            else check.positive_int("range_test_epochs", range_test_epochs)
        ),
        epochs_per_step=(
            task.epochs_per_step if epochs_per_step is None else check.positive("epochs_per_step", epochs_per_step)
        ),
        overrides={"epochs": epochs, "epochs-per-step": epochs_per_step, "range-test-epochs": range_test_epochs},
    )
    check_budget(recipe.epochs, recipe.epochs_per_step, task.iterations_per_epoch)
    check_range_test_epochs(recipe.range_test_epochs, task.iterations_per_epoch)
    return recipe


def _run(
    task_name: str | Any,
    seeds: int,
    epochs: int | None,
    range_test_epochs: int | None,
    epochs_per_step: float | None,
    progress: bool,
    given_bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    from ..suggest import Bounds
    from .tasks import load_task

    seed_count = check.positive_int("seeds", seeds)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {progress!r}")
    task = load_task(task_name) if isinstance(task_name, str) else task_name
    recipe = _recipe(task, epochs, range_test_epochs, epochs_per_step)

    started = time.perf_counter()
    if given_bounds is None:
        range_test = range_test_on_task(task, seed=0, epochs=recipe.range_test_epochs, progress=progress)
        bounds = range_test.suggest()
    else:
        range_test, bounds = None, Bounds(*given_bounds, "given", "given with --bounds; no range test was run")
    range_test_seconds = time.perf_counter() - started

    plan = make_plan(bounds.base_lr, bounds.max_lr, task.iterations_per_epoch, recipe.epochs, recipe.epochs_per_step)
    seed_list = list(range(seed_count))
    fixed_lr, grid, curves = _train_policies(task, plan, seed_list, progress)
    total_seconds = time.perf_counter() - started

    results = summarise(task, plan, bounds, fixed_lr, grid, curves, seed_list)
    named = getattr(task, "command_args", f"--task {task.name}")
    results["command"] = f"cyclr reproduce {named} --seeds {seed_count}" + "".join(
        f" --{flag} {value:g}" for flag, value in recipe.overrides.items() if value is not None
    ) + ("" if given_bounds is None else f" --bounds {given_bounds[0]:g} {given_bounds[1]:g}")
    results["settings"] = _settings(task, recipe)
    results["runtime_seconds"] = {
        "range_test": round(range_test_seconds, 2),
        "training": round(total_seconds - range_test_seconds, 2),
        "total": round(total_seconds, 2),
    }
    results["range_test"] = range_test
    return results


def _train_policies(
    task: Any, plan: TrainingPlan, seeds: Sequence[int], progress: bool
) -> tuple[float, dict[float, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """Train the fixed grid, choose its best LR, then train the other policies: ``(fixed_lr, grid, curves)``."""
    runs = len(plan.fixed_grid) + len(POLICIES) - 1
    bar = _progress_bar(progress, runs * len(seeds) * plan.iterations)
    try:
        grid = {
            lr: _train_seeds(task, plan, plan.learning_rates("fixed", lr), seeds, bar, f"fixed {lr:.3g}")
            for lr in plan.fixed_grid
        }
        # Chosen on the validation metric only, so the test split stays untouched by the choice.
        best = max if task.metric == "accuracy" else min
        fixed_lr = best(grid, key=lambda lr: float(np.mean(grid[lr]["val"][:, -1])))
        curves = {"fixed": grid[fixed_lr]}
        for policy in POLICIES[1:]:
            curves[policy] = _train_seeds(task, plan, plan.learning_rates(policy, fixed_lr), seeds, bar, policy)
    finally:
        bar.close()
    return fixed_lr, grid, curves


def _train_seeds(
    task: Any, plan: TrainingPlan, lrs: np.ndarray, seeds: Sequence[int], bar: Any, label: str
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


def _settings(task: Any, recipe: _Recipe) -> dict[str, Any]:
    """``results["settings"]``: the recipe the run followed and the data it saw."""
    return {
        "epochs": recipe.epochs,
        "epochs_per_step": recipe.epochs_per_step,
        "range_test_epochs": recipe.range_test_epochs,
        "iterations_per_epoch": task.iterations_per_epoch,
        "batch_size": task.batch_size,
        "split_sizes": task.split_sizes,
        "optimizer": task.optimizer.describe(),
    }


def _progress_bar(enabled: bool, total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="it", leave=False, dynamic_ncols=True)
