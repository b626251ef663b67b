"""``cyclr.accelerate``: the range test on prepared objects, and a scheduler whose cycle counts optimizer steps.

``accelerator.prepare(scheduler)`` advances a scheduler ``num_processes``
times per optimizer step (unless ``split_batches=True``): it treats the
schedule as counted in steps of a single-process run over the whole data.
A cycle sized from the prepared (sharded) loader - the paper's 2-10 epochs of
this process's iterations - then runs ``num_processes`` times too fast.
:func:`prepare_scheduler` prepares it to step once per optimizer step instead,
so the LR after ``k`` optimizer steps is the same with any number of processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.scheduler import AcceleratedScheduler
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from . import _plugin
from .rangetest import RangeTestResult
from .torch import LRFinder

__all__ = ["prepare_scheduler", "range_test"]


def prepare_scheduler(accelerator: Accelerator, scheduler: LRScheduler) -> AcceleratedScheduler:
    """``accelerator.prepare_scheduler``, but stepping ``scheduler`` once per optimizer step on every process.

    It still skips the steps Accelerate skips (gradient accumulation, an fp16
    step skipped for overflow) and is saved by ``accelerator.save_state``.

    Args:
        accelerator: the ``Accelerator``.
        scheduler: a scheduler on an optimizer already passed to ``accelerator.prepare``.

    Returns:
        The ``AcceleratedScheduler`` to call ``.step()`` on after each optimizer step.

    Raises:
        TypeError: ``accelerator`` or ``scheduler`` has the wrong type.

    Examples:
        >>> from accelerate import Accelerator
        >>> import torch, cyclr.torch, cyclr.accelerate
        >>> accelerator = Accelerator(cpu=True)
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = accelerator.prepare(torch.optim.SGD(model.parameters(), lr=0.1))
        >>> scheduler = cyclr.accelerate.prepare_scheduler(
        ...     accelerator, cyclr.torch.CyclicLR(optimizer, 0.01, 0.1, step_size_up=4, cycle_momentum=False))
    """
    if not isinstance(accelerator, Accelerator):
        raise TypeError(f"accelerator must be an accelerate.Accelerator, got {type(accelerator).__name__}")
    if not isinstance(scheduler, LRScheduler):
        raise TypeError(f"scheduler must be a torch LRScheduler, got {type(scheduler).__name__}")
    prepared = accelerator.prepare_scheduler(scheduler)
    prepared.split_batches = True  # the flag under which AcceleratedScheduler steps once, not num_processes times
    return prepared


def range_test(
    accelerator: Accelerator,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable[Any],
    criterion: Callable[..., torch.Tensor] | None = None,
    *,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    val_loader: Iterable[Any] | None = None,
    max_grad_norm: float | None = None,
    max_grad_value: float | None = None,
    clip_fn: Callable[[torch.optim.Optimizer], Any] | None = None,
    progress: bool = False,
    **options: Any,
) -> RangeTestResult:
    """:meth:`cyclr.torch.LRFinder.range_test` on objects from ``accelerator.prepare``, on every process.

    The prepared model (DDP: gradients are averaged as in training) and loaders
    (each process its shard) are used as they are; the losses and metrics are
    averaged across processes, so every process gets the same curve and bounds.
    The optimizer's wrapped torch optimizer is stepped, with Accelerate's
    GradScaler under fp16. Afterwards the model, optimizer, scaler and RNG are
    restored, and the loaders' epoch counters are as before.

    Args:
        accelerator: the ``Accelerator`` that prepared the objects.
        model: the model, as returned by ``accelerator.prepare``.
        optimizer: the optimizer, as returned by ``accelerator.prepare``.
        train_loader: the training loader, as returned by ``accelerator.prepare``.
        criterion: the loss, as for :class:`cyclr.torch.LRFinder`.
        step_fn: ``step_fn(model, batch) -> loss``, as for :class:`cyclr.torch.LRFinder`.
        val_loader: validation batches, as for :meth:`cyclr.torch.LRFinder.range_test`.
        max_grad_norm: the threshold your loop passes to ``accelerator.clip_grad_norm_``
            (the gradients are clipped the same way before each step); None: no clipping.
        max_grad_value: the same for ``accelerator.clip_grad_value_``.
        clip_fn: ``clip_fn(optimizer)`` for a loop that clips its own way, called
            where it clips (gradients summed and unscaled); not with the two above.
        progress: show a progress bar on the main process.
        options: further ``range_test`` options (``start_lr``, ``end_lr``, ``num_iter``, ...).

    Returns:
        The :class:`~cyclr.RangeTestResult` (identical on every process).

    Raises:
        TypeError: ``accelerator`` is not an ``Accelerator``; LRFinder's own checks.

    Examples:
        >>> # model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        >>> # result = cyclr.accelerate.range_test(accelerator, model, optimizer, loader, nn.CrossEntropyLoss())
        >>> # bounds = result.suggest()
    """
    if not isinstance(accelerator, Accelerator):
        raise TypeError(f"accelerator must be an accelerate.Accelerator, got {type(accelerator).__name__}")
    inner = getattr(optimizer, "optimizer", optimizer)
    scaler = getattr(accelerator, "scaler", None)
    finder = LRFinder(model, inner, criterion, step_fn=step_fn, scaler=scaler,
                      max_grad_norm=max_grad_norm, max_grad_value=max_grad_value, clip_fn=clip_fn,
                      progress=progress and accelerator.is_main_process)
    with _plugin.loader_left_alone(train_loader):
        if val_loader is None:
            return finder.range_test(train_loader, **options)
        with _plugin.loader_left_alone(val_loader):
            return finder.range_test(train_loader, val_loader, **options)
