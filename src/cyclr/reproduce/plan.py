"""What is fixed before the experiment's policies train: the policies, the budget, the plan.

Everything here is plain numpy: a plan can be made, checked and inspected
without torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from .. import _validate as check
from ..schedules import CyclicSchedule, cycle_aligned_iterations, recommended_step_size

__all__ = [
    "CYCLIC_POLICIES",
    "END_DECAY",
    "MAX_ITERATIONS",
    "POLICIES",
    "POLICY_DEFINITIONS",
    "Plan",
    "TrainingPlan",
    "check_budget",
    "check_range_test_epochs",
    "evaluation_points",
    "make_plan",
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
class TrainingPlan:
    """Everything fixed before the policies train: bounds, step size, budget, fixed-LR grid.

    Build one with :func:`make_plan`.

    Args:
        base_lr: the lower bound read from the range test.
        max_lr: the upper bound read from the range test.
        step_size: iterations of a half-cycle.
        iterations: the budget every policy trains for, a whole number of cycles.
        gamma: exp_range's and exp's decay per iteration (to :data:`END_DECAY` over the budget).
        fixed_grid: the constant LRs tried for the ``fixed`` policy.
        points: the iterations after which accuracy is measured, 0 and ``iterations`` included.

    Examples:
        >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=30, epochs=11, epochs_per_step=2)
        >>> plan.step_size, plan.iterations, plan.cycle_ends
        (60, 240, [120, 240])

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 4.1, Table 1).
    """

    base_lr: float
    max_lr: float
    step_size: int
    iterations: int
    gamma: float
    fixed_grid: tuple[float, ...]
    points: tuple[int, ...]

    @property
    def cycle_ends(self) -> list[int]:
        """The iterations at which a cycle ends, where the cyclic LRs are back at ``base_lr``."""
        return list(range(2 * self.step_size, self.iterations + 1, 2 * self.step_size))

    def learning_rates(self, policy: str, fixed_lr: float) -> np.ndarray:
        """The LR of every update of ``policy``.

        Args:
            policy: one of :data:`POLICIES`.
            fixed_lr: the constant LR the ``fixed`` policy chose from the grid
                (also the start of ``fixed_steps`` and ``exp``).

        Returns:
            An array of ``iterations`` learning rates, one per optimizer update.

        Raises:
            ValueError: ``policy`` is not one of :data:`POLICIES`.

        Examples:
            >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=30, epochs=11, epochs_per_step=2)
            >>> plan.learning_rates("triangular", 0.02)[[0, 60, 120]].tolist()
            [0.01, 0.04, 0.01]
        """
        iteration = np.arange(self.iterations)
        base, peak, step = self.base_lr, self.max_lr, self.step_size
        if policy == "fixed":
            return np.full(self.iterations, fixed_lr)
        if policy == "fixed_steps":
            drops = sum((iteration >= self._on_grid(f * self.iterations)).astype(int) for f in STEP_DROPS)
            return fixed_lr * 0.1**drops
        if policy in CYCLIC_POLICIES:
            gamma = self.gamma if policy == "exp_range" else 1.0
            return np.asarray(CyclicSchedule(base, peak, step, mode=policy, gamma=gamma)(iteration))
        if policy == "decay":
            return np.where(iteration < step, peak - (peak - base) * iteration / step, base)
        if policy == "exp":
            return fixed_lr * self.gamma**iteration
        raise ValueError(f"policy must be one of {', '.join(map(repr, POLICIES))}; got policy={policy!r}")

    def _on_grid(self, iteration: float) -> int:
        """The evaluation point nearest ``iteration``, so a drop shows as a step in the curves."""
        return min(self.points, key=lambda p: abs(p - iteration))


Plan = TrainingPlan
"""The earlier name of :class:`TrainingPlan`."""


def check_budget(epochs: int, epochs_per_step: float, iterations_per_epoch: int) -> int:
    """Check that a training budget holds at least one whole cycle; return the step size.

    The step size is rounded to whole iterations, so a budget of exactly
    ``2 * epochs_per_step`` epochs can fall one iteration short of a cycle.

    Args:
        epochs: the training budget in epochs.
        epochs_per_step: the half-cycle in epochs (the paper recommends 2-10).
        iterations_per_epoch: optimizer updates per epoch.

    Returns:
        The step size (half-cycle) in iterations.

    Raises:
        ValueError: an argument is not positive, the budget holds less than one
            cycle, or the budget or step size is past :data:`MAX_ITERATIONS`.
        TypeError: ``epochs`` or ``iterations_per_epoch`` is not an int.

    Examples:
        >>> check_budget(epochs=32, epochs_per_step=4, iterations_per_epoch=63)  # the digits recipe
        252
        >>> check_budget(epochs=5, epochs_per_step=2.5, iterations_per_epoch=63)
        Traceback (most recent call last):
        ...
        ValueError: epochs must cover at least one cycle (2 * epochs_per_step = 5 epochs, 316 iterations of 63 per epoch), got epochs=5 (315 iterations)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.2: the step size is 2-10 epochs).
    """
    per_epoch = check.positive_int("iterations_per_epoch", iterations_per_epoch)
    per_step = check.positive("epochs_per_step", epochs_per_step)
    if per_step * per_epoch > MAX_ITERATIONS:
        raise ValueError(
            f"epochs_per_step must give a step size of at most {MAX_ITERATIONS:,} iterations "
            f"({per_epoch} per epoch), got epochs_per_step={epochs_per_step!r}"
        )
    step = recommended_step_size(per_epoch, per_step)
    budget = check.positive_int("epochs", epochs) * per_epoch
    if budget > MAX_ITERATIONS:
        raise ValueError(
            f"epochs must give at most {MAX_ITERATIONS:,} iterations ({per_epoch} per epoch), "
            f"got epochs={epochs} ({budget:,} iterations)"
        )
    if budget < 2 * step:
        raise ValueError(
            f"epochs must cover at least one cycle (2 * epochs_per_step = {2 * epochs_per_step:g} epochs, "
            f"{2 * step} iterations of {iterations_per_epoch} per epoch), got epochs={epochs} ({budget} iterations)"
        )
    return step


def check_range_test_epochs(epochs: int, iterations_per_epoch: int) -> int:
    """Check the length of the range test's linear sweep; return it in iterations.

    Args:
        epochs: the sweep's length in epochs.
        iterations_per_epoch: optimizer updates per epoch.

    Returns:
        ``epochs * iterations_per_epoch``.

    Raises:
        ValueError: ``epochs`` is not positive, or the sweep is past :data:`MAX_ITERATIONS`.
        TypeError: ``epochs`` is not an int.

    Examples:
        >>> check_range_test_epochs(12, 63)
        756

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.3: the range test).
    """
    num_iter = check.positive_int("range_test_epochs", epochs) * iterations_per_epoch
    if num_iter > MAX_ITERATIONS:
        raise ValueError(
            f"range_test_epochs must give at most {MAX_ITERATIONS:,} iterations ({iterations_per_epoch} per epoch), "
            f"got range_test_epochs={epochs} ({num_iter:,} iterations)"
        )
    return num_iter


def evaluation_points(iterations: int, every: int, extra: Iterable[int] = ()) -> list[int]:
    """The iterations after which a run measures accuracy.

    Args:
        iterations: the run's length.
        every: the regular spacing of the points.
        extra: more points (cycle ends, peaks); those outside ``0..iterations`` are dropped.

    Returns:
        0, ``every``, ``2 * every``, ..., ``iterations`` and the ``extra`` points, sorted, without repeats.

    Examples:
        >>> evaluation_points(10, 4, extra=[5, 99])
        [0, 4, 5, 8, 10]
    """
    points = set(range(0, iterations + 1, every)) | {iterations}
    points |= {p for p in extra if 0 <= p <= iterations}
    return sorted(points)


def make_plan(
    base_lr: float, max_lr: float, iterations_per_epoch: int, epochs: int, epochs_per_step: float
) -> TrainingPlan:
    """The plan for given bounds and budget: the paper's step size, whole cycles, the fixed-LR grid.

    Args:
        base_lr: the lower bound from the range test.
        max_lr: the upper bound from the range test.
        iterations_per_epoch: optimizer updates per epoch.
        epochs: the training budget in epochs, rounded down to whole cycles.
        epochs_per_step: the half-cycle in epochs.

    Returns:
        The :class:`TrainingPlan`; accuracy is measured about :data:`EVALS_PER_STEP`
        times per half-cycle and at every cycle end and peak.

    Raises:
        ValueError: the budget fails :func:`check_budget`.

    Examples:
        >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=30, epochs=11, epochs_per_step=2)
        >>> plan.iterations  # 330 iterations hold 2 whole cycles of 120
        240
        >>> [round(lr, 4) for lr in plan.fixed_grid]
        [0.005, 0.01, 0.02, 0.04, 0.08]

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.2: stop training at the end of a cycle).
    """
    step = check_budget(epochs, epochs_per_step, iterations_per_epoch)
    iterations = cycle_aligned_iterations(epochs * iterations_per_epoch, step)
    every = max(1, step // EVALS_PER_STEP)
    cycle_ends = range(0, iterations + 1, 2 * step)
    peaks = range(step, iterations + 1, 2 * step)
    grid = (base_lr * GRID_BELOW, base_lr, math.sqrt(base_lr * max_lr), max_lr, max_lr * GRID_ABOVE)
    return TrainingPlan(
        base_lr=base_lr,
        max_lr=max_lr,
        step_size=step,
        iterations=iterations,
        gamma=END_DECAY ** (1.0 / iterations),
        fixed_grid=tuple(dict.fromkeys(grid)),
        points=tuple(evaluation_points(iterations, every, [*cycle_ends, *peaks])),
    )
