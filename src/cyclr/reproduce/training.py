"""The plain SGD loop that ``cyclr reproduce`` runs once per policy and seed."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .tasks import Split, Task


@dataclasses.dataclass(frozen=True)
class RunCurve:
    """Accuracies measured after ``iterations[i]`` optimizer updates."""

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
    """Fraction of ``split`` that ``model`` classifies correctly."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(split), batch_size):
        logits = model(split.x[start : start + batch_size])
        correct += int((logits.argmax(dim=1) == split.y[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / len(split)


def train(
    task: Task,
    learning_rates: np.ndarray,
    seed: int,
    points: list[int],
    progress: Callable[[int], None] | None = None,
) -> RunCurve:
    """SGD on ``task`` with ``learning_rates[i]`` at update ``i``; accuracies after each of ``points`` updates.

    The initial weights and the batch order depend only on ``seed``, so every
    policy run with the same seed starts from the same model and sees the same
    batches. A run whose loss turns non-finite stops; its last accuracies are
    carried to the remaining evaluation points.
    """
    total = len(learning_rates)
    if points[0] != 0 or points[-1] != total:
        raise ValueError(f"points must run from 0 to len(learning_rates)={total}, got {points[0]}..{points[-1]}")
    model = task.build_model(seed)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=float(learning_rates[0]), momentum=task.momentum, weight_decay=task.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    loader = task.train_loader(seed)
    curve: dict[str, list[float]] = {"test": [], "val": []}
    diverged_at: int | None = None

    def record() -> None:
        curve["test"].append(accuracy(model, task.test))
        curve["val"].append(accuracy(model, task.val))

    record()
    step = 0
    while step < total and diverged_at is None:
        for x, y in loader:
            for group in optimizer.param_groups:
                group["lr"] = float(learning_rates[step])
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
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
        done = len(curve["test"])
        for values in curve.values():
            values.extend([values[-1]] * (len(points) - done))
        if progress is not None:
            progress(total - points[done - 1])
    return RunCurve(points, curve["test"], curve["val"], diverged_at)
