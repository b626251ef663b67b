"""The plain SGD loop that ``cyclr reproduce`` runs once per policy and seed."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from .tasks import Split

__all__ = ["RunCurve", "accuracy", "batch_loss", "torch_threads", "train"]


@dataclasses.dataclass(frozen=True)
class RunCurve:
    """Accuracies measured after ``iterations[i]`` optimizer updates of one run.

    Args:
        iterations: the evaluation points, from 0 to the run's length.
        test_accuracy: test accuracy at each point.
        val_accuracy: validation accuracy at each point.
        diverged_at: the update at which the loss turned non-finite, or None.

    Examples:
        >>> curve = RunCurve([0, 10], test_accuracy=[0.1, 0.9], val_accuracy=[0.1, 0.8])
        >>> curve.test_accuracy[-1], curve.diverged_at
        (0.9, None)
    """

    iterations: list[int]
    test_accuracy: list[float]
    val_accuracy: list[float]
    diverged_at: int | None = None


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads (None: leave as is), then restore the setting.

    The bundled models are tiny: splitting their ops across threads costs more
    in synchronisation than it saves, and on a busy machine a 2-thread run was
    measured 5-40x slower than a 1-thread one.

    Args:
        count: the number of threads, or None to leave torch's setting alone.

    Yields:
        Nothing; the setting applies inside the ``with`` block.

    Examples:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def accuracy(model: nn.Module, split: Split, batch_size: int = 1024) -> float:
    """Fraction of ``split`` that ``model`` classifies correctly.

    The model is evaluated in eval mode and left in the mode it was in.

    Args:
        model: a classifier returning one logit per class.
        split: the inputs and labels.
        batch_size: inputs per forward pass.

    Returns:
        The accuracy, between 0 and 1.

    Examples:
        >>> import torch
        >>> from cyclr.reproduce.tasks import Split, Task
        >>> inputs = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        >>> split = Split(inputs, (inputs[:, 0] > 0).long())
        >>> task = Task("toy", "two halves of a plane", split, split, split, lambda: torch.nn.Linear(2, 2),
        ...             batch_size=16, epochs=4, epochs_per_step=1, range_test_epochs=2)
        >>> 0.0 <= accuracy(task.build_model(seed=0), task.test) <= 1.0
        True
    """
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(split), batch_size):
        logits = model(split.x[start : start + batch_size])
        correct += int((logits.argmax(dim=1) == split.y[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / len(split)


def train(
    task: Any,
    learning_rates: np.ndarray,
    seed: int,
    points: list[int],
    progress: Callable[[int], None] | None = None,
) -> RunCurve:
    """Train on ``task`` with ``learning_rates[i]`` at update ``i``; its metric after each of ``points`` updates.

    The task's optimizer, loss and metric are used (for the bundled tasks: SGD,
    cross entropy, accuracy). The initial weights and the batch order depend
    only on ``seed`` (torch's RNG is seeded for the run and restored after), so every
    policy run with the same seed starts from the same model and sees the same
    batches. A run whose loss turns non-finite stops; its last accuracies are
    carried to the remaining evaluation points.

    Args:
        task: a :class:`~cyclr.reproduce.tasks.Task` or a :class:`~cyclr.reproduce.custom.FactoryTask`.
        learning_rates: the LR of every update; its length is the run's length.
        seed: fixes the initial weights and the batch order.
        points: the evaluation points, from 0 to ``len(learning_rates)``.
        progress: called with the number of updates done since its last call.

    Returns:
        The :class:`RunCurve`.

    Raises:
        ValueError: ``points`` does not run from 0 to ``len(learning_rates)``.

    Examples:
        >>> import torch
        >>> from cyclr.reproduce.tasks import Split, Task
        >>> inputs = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        >>> split = Split(inputs, (inputs[:, 0] > 0).long())
        >>> task = Task("toy", "two halves of a plane", split, split, split, lambda: torch.nn.Linear(2, 2),
        ...             batch_size=16, epochs=4, epochs_per_step=1, range_test_epochs=2)
        >>> curve = train(task, np.full(8, 0.1), seed=0, points=[0, 4, 8])
        >>> curve.iterations, len(curve.test_accuracy), curve.diverged_at
        ([0, 4, 8], 3, None)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    total = len(learning_rates)
    if points[0] != 0 or points[-1] != total:
        raise ValueError(f"points must run from 0 to len(learning_rates)={total}, got {points[0]}..{points[-1]}")
    with torch.random.fork_rng(devices=[]):  # dropout and a loader's shuffling depend only on the seed
        torch.manual_seed(seed)
        return _train(task, learning_rates, seed, points, progress)


def _train(
    task: Any, learning_rates: np.ndarray, seed: int, points: list[int], progress: Callable[[int], None] | None
) -> RunCurve:
    total = len(learning_rates)
    model = task.build_model(seed)
    optimizer = task.optimizer.build(model.parameters(), lr=float(learning_rates[0]))
    criterion = task.make_criterion()
    loader = task.train_loader(seed)
    curve: dict[str, list[float]] = {"test": [], "val": []}
    diverged_at: int | None = None

    def record() -> None:
        curve["test"].append(task.evaluate(model, "test"))
        curve["val"].append(task.evaluate(model, "val"))

    record()
    step = 0
    while step < total and diverged_at is None:
        for batch in loader:
            for group in optimizer.param_groups:
                group["lr"] = float(learning_rates[step])
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(model, batch, criterion, task.step_fn)
            if not math.isfinite(loss.item()):
                diverged_at = step
                break
            loss.backward()
            optimizer.step()
            step += 1
            if step == points[len(curve["test"])]:
                record()
                if progress is not None:
                    progress(step - points[len(curve["test"]) - 2])
            if step == total:
                break
    if diverged_at is not None:
        _carry_last(curve, points, progress)
    return RunCurve(points, curve["test"], curve["val"], diverged_at)


def batch_loss(model: nn.Module, batch: Any, criterion: Any, step_fn: Any = None) -> torch.Tensor:
    """The loss of one batch: ``step_fn(model, batch)``, or ``criterion(model(inputs), targets)``.

    Args:
        model: the model.
        batch: an ``(inputs, targets)`` pair, or anything ``step_fn`` takes.
        criterion: the loss function (unused with ``step_fn``).
        step_fn: ``step_fn(model, batch) -> loss``, or None.

    Returns:
        The loss, a tensor with one element.

    Examples:
        >>> import torch
        >>> model, batch = torch.nn.Linear(2, 1), (torch.ones(3, 2), torch.zeros(3, 1))
        >>> batch_loss(model, batch, torch.nn.MSELoss()).ndim
        0
        >>> batch_loss(model, batch, None, step_fn=lambda m, b: m(b[0]).sum().reshape(1)).shape
        torch.Size([])
    """
    if step_fn is not None:
        loss = step_fn(model, batch)
    else:
        inputs, targets = batch
        loss = criterion(model(inputs), targets)
    return loss.reshape(()) if loss.ndim else loss


def _carry_last(curve: dict[str, list[float]], points: list[int], progress: Callable[[int], None] | None) -> None:
    """A diverged run keeps its last accuracies to the end, and the progress bar is moved on past it."""
    done = len(curve["test"])
    for values in curve.values():
        values.extend([values[-1]] * (len(points) - done))
    if progress is not None:
        progress(points[-1] - points[done - 1])
