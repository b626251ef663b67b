"""``cyclr.transformers``: the LR range test and a cyclical LR for ``transformers.Trainer``.

    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collator)
    cyclr.transformers.attach(trainer)
    trainer.train()

When training begins, the range test runs on the Trainer's own training
dataloader (collator, sampler, per-process shard), its prepared model and
optimizer, its ``compute_loss`` and its gradient clipping (``max_grad_norm``),
measuring the loss (and, for classification, the accuracy) on the first
batches of the ``eval_dataset`` as it goes; then the model and optimizer are restored
and the Trainer's scheduler is :class:`cyclr.torch.CyclicLR` between the
suggested bounds. The scheduler is saved in each checkpoint and
``trainer.train(resume_from_checkpoint=...)`` continues its cycle.
"""

from __future__ import annotations

import itertools
import math
import types
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from transformers import Trainer, TrainerCallback

from . import _plugin
from .rangetest import RangeTestResult
from .schedules import CYCLIC_BASE_MOMENTUM, CYCLIC_MAX_MOMENTUM
from .suggest import Bounds, NoSuggestionError
from .torch import CyclicLR, LRFinder

__all__ = ["CyclicLRCallback", "attach", "model_loss"]


def model_loss(model: nn.Module, batch: Mapping[str, Any]) -> torch.Tensor:
    """The loss a Hugging Face model computes from a dict batch: ``model(**batch).loss``.

    A ``step_fn`` for :class:`cyclr.torch.LRFinder` outside a Trainer.

    Args:
        model: a model that returns its loss when the batch holds ``labels``.
        batch: a dict of tensors, as a data collator makes them.

    Returns:
        The scalar loss.

    Raises:
        TypeError: the batch is not a dict, or the model returned no loss.

    Examples:
        >>> from cyclr.torch import LRFinder
        >>> from cyclr.transformers import model_loss
        >>> # LRFinder(model, optimizer, step_fn=model_loss).range_test(loader)
    """
    if not isinstance(batch, Mapping):
        raise TypeError(f"batch must be a dict of model inputs, got {type(batch).__name__}")
    outputs = model(**batch)
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss", None)
    if loss is None and isinstance(outputs, (tuple, list)) and outputs:
        loss = outputs[0]
    if not isinstance(loss, torch.Tensor):
        raise TypeError(
            f"the model returned no loss (got {type(outputs).__name__}); put the labels in the batch"
        )
    return loss


class CyclicLRCallback(TrainerCallback):
    """Runs the range test at ``on_train_begin`` and puts a cyclical LR on the Trainer.

    Use :func:`attach`, which also makes the Trainer build a cyclr scheduler so
    that checkpoints resume it. The options are those of :func:`attach`.

    Attributes:
        result: the :class:`~cyclr.RangeTestResult` of the last test (None on resume).
        bounds: the :class:`~cyclr.Bounds` in use.
        scheduler: the installed scheduler.

    Examples:
        >>> import cyclr.transformers
        >>> callback = cyclr.transformers.attach(trainer)  # doctest: +SKIP
        >>> trainer.train()  # doctest: +SKIP
        >>> callback.bounds, callback.scheduler  # doctest: +SKIP
    """

    def __init__(self, trainer: Trainer, plan: _plugin.SchedulePlan, val_batches: int, save: bool) -> None:
        self.trainer = trainer
        self.plan = plan
        self.val_batches = val_batches
        self.save = save
        self.result: RangeTestResult | None = None
        self.bounds: Bounds | None = None
        self.scheduler: LRScheduler | None = None
        self._placeholder: LRScheduler | None = None

    def placeholder(self, optimizer: Optimizer, num_training_steps: int) -> LRScheduler:
        """A scheduler of the right class for a checkpoint to load into; replaced after a fresh range test."""
        lrs = [float(g["lr"]) for g in optimizer.param_groups]
        if self.plan.policy == "1cycle":
            scheduler: LRScheduler = self.plan.build(optimizer, {"max_lr": lrs,
                                                                 "total_steps": max(10, int(num_training_steps)),
                                                                 "cycle_momentum": self.plan.cycle_momentum})
        else:
            scheduler = CyclicLR(optimizer, lrs, lrs, step_size_up=1, cycle_momentum=self.plan.cycle_momentum,
                                 base_momentum=self.plan.base_momentum, max_momentum=self.plan.max_momentum)
        for group, lr in zip(optimizer.param_groups, lrs):
            group["lr"] = lr
        self._placeholder = scheduler
        return scheduler

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Run the range test and install the scheduler, unless a checkpoint's scheduler was loaded.

        Args:
            args: the Trainer's ``TrainingArguments``.
            state: the Trainer's ``TrainerState``.
            control: the Trainer's ``TrainerControl``.
            **kwargs: the Trainer's other callback arguments (unused).
        """
        trainer = self.trainer
        current = trainer.lr_scheduler
        if current is not self._placeholder or current.last_epoch > 0:
            # a checkpoint's scheduler state was loaded into the placeholder: keep its bounds and position
            self.scheduler = current
            self.result = None
            self.bounds = _bounds_of(current)
            return
        loader = kwargs.get("train_dataloader") or trainer.get_train_dataloader()
        self.result = self._range_test(trainer, loader)
        try:
            bounds = self.result.suggest(self.plan.method)
        except NoSuggestionError as exc:
            bounds = None
            error: NoSuggestionError | None = exc
        else:
            error = None
        if self.save and trainer.is_world_process_zero():
            _plugin.save_result(self.result, bounds, args.output_dir)
        if error is not None or bounds is None:
            raise ValueError(f"the range test gave no usable bounds: {error}") from error
        self.bounds = bounds
        accumulation = max(1, int(args.gradient_accumulation_steps))
        try:
            per_epoch: int | None = max(1, math.ceil(len(loader) / accumulation))
        except TypeError:
            per_epoch = None
        kwargs_ = self.plan.scheduler_kwargs(bounds, trainer.optimizer, per_epoch, state.max_steps or None)
        self.scheduler = self.plan.build(trainer.optimizer, kwargs_)
        trainer.lr_scheduler = self.scheduler
        trainer.callback_handler.lr_scheduler = self.scheduler
        self._placeholder = None

    def _range_test(self, trainer: Trainer, loader: Any) -> RangeTestResult:
        model = trainer.model_wrapped

        def step(model: nn.Module, batch: Any) -> torch.Tensor:
            inputs = trainer._prepare_inputs(batch)
            with trainer.compute_loss_context_manager():
                loss = trainer.compute_loss(model, inputs)
            return loss.mean() if loss.ndim else loss  # DataParallel returns one loss per device

        optimizer = trainer.optimizer
        scaler = getattr(trainer.accelerator, "scaler", None)
        inner = getattr(optimizer, "optimizer", optimizer)  # AcceleratedOptimizer: step the wrapped one
        clip = trainer.args.max_grad_norm  # the Trainer clips when it is > 0 (1.0 by default)
        val_fn = self._val_fn(trainer)
        finder = LRFinder(model, inner, step_fn=step, val_fn=val_fn, scaler=scaler, progress=False,
                          max_grad_norm=float(clip) if clip is not None and clip > 0 else None)
        options = {"accumulation_steps": max(1, int(trainer.args.gradient_accumulation_steps)),
                   **self.plan.range_test}
        if val_fn is None:
            options.pop("val_every", None)
        with _plugin.loader_left_alone(loader):
            return finder.range_test(loader, **options)

    def _val_fn(self, trainer: Trainer) -> Any:
        """The range test's validation: ``val_loss`` (and ``val_accuracy``) on the first eval batches, or None.

        The batches come from ``trainer.get_eval_dataloader()`` (its collator and,
        with several processes, this process's shard) and are kept for the
        whole test; the loss is the Trainer's ``compute_loss``.
        """
        dataset = trainer.eval_dataset
        if not self.val_batches or dataset is None or isinstance(dataset, Mapping):
            return None
        rng = torch.get_rng_state()
        loader = trainer.get_eval_dataloader()
        with _plugin.loader_left_alone(loader):
            batches = list(itertools.islice(loader, self.val_batches))
        torch.set_rng_state(rng)
        if not batches:
            return None

        def validate(model: nn.Module) -> dict[str, float]:
            loss_sum, weight, correct, counted, classifies = 0.0, 0, 0, 0, True
            for raw in batches:
                inputs = trainer._prepare_inputs(raw)
                labels = inputs.get("labels") if isinstance(inputs, Mapping) else None
                with trainer.compute_loss_context_manager():
                    out = trainer.compute_loss(model, inputs, return_outputs=True)
                # a subclass's compute_loss may ignore return_outputs and return the loss alone
                loss, outputs = out if isinstance(out, tuple) and len(out) == 2 else (out, None)
                n = len(labels) if isinstance(labels, torch.Tensor) and labels.ndim else 1  # a batch mean each
                loss_sum += float(loss.detach().float().mean()) * n
                weight += n
                hits = _class_hits(outputs, labels) if classifies else None
                if hits is None:
                    classifies = False
                else:
                    correct, counted = correct + hits[0], counted + hits[1]
            values = {"val_loss": loss_sum / weight}
            if classifies and counted:
                values["val_accuracy"] = correct / counted
            return values

        return validate


def attach(
    trainer: Trainer,
    *,
    policy: str = "cyclic",
    mode: str = "triangular",
    epochs_per_step: float = 4.0,
    step_size_up: int | None = None,
    gamma: float = 1.0,
    cycle_momentum: bool = False,
    base_momentum: float = CYCLIC_BASE_MOMENTUM,
    max_momentum: float = CYCLIC_MAX_MOMENTUM,
    method: str = "auto",
    range_test: Mapping[str, Any] | None = None,
    val_batches: int = 10,
    save: bool = True,
) -> CyclicLRCallback:
    """Make ``trainer`` run the LR range test when training begins and train with a cyclical LR.

    The test uses the Trainer's training dataloader (its collator, sampler and,
    with several processes, this process's shard), the model as prepared by
    Accelerate and the Trainer's ``compute_loss``, so dict batches and models
    that return ``.loss`` need no code. The model, optimizer and RNG are then
    restored and the scheduler becomes :class:`cyclr.torch.CyclicLR` (or
    :class:`cyclr.torch.OneCycleLR`), stepped every optimizer step.
    ``TrainingArguments.lr_scheduler_type`` and warmup are ignored; a scheduler
    passed as ``optimizers=(optimizer, scheduler)`` is replaced, with a warning.
    On resume (``train(resume_from_checkpoint=...)``) the checkpoint's scheduler
    is loaded and the test is not run again.

    Momentum: AdamW's beta1 (and SGD's momentum) is left as configured unless
    ``cycle_momentum=True``; torch's CyclicLR would otherwise cycle beta1
    between 0.8 and 0.9.

    Args:
        trainer: the ``transformers.Trainer`` (any subclass), before ``train()``.
        policy: ``"cyclic"`` (the paper's CLR) or ``"1cycle"`` (over ``max_steps``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        epochs_per_step: half a cycle in epochs of this process's data (the paper: 2-10).
        step_size_up: half a cycle in optimizer steps; overrides ``epochs_per_step``.
        gamma: the ``exp_range`` decay.
        cycle_momentum: cycle momentum / beta1 opposite to the LR (off by default for the Adam family).
        base_momentum: the momentum / beta1 at the LR's peak.
        max_momentum: the momentum / beta1 at the LR's minimum.
        method: how to read the bounds (see :meth:`cyclr.RangeTestResult.suggest`);
            ``"auto"`` reads the eval accuracy (classification) or eval loss when
            the Trainer has an ``eval_dataset``, else the training loss's valley.
        range_test: options of :meth:`cyclr.torch.LRFinder.range_test`.
        val_batches: eval batches measured every ``val_every`` steps of the test
            (the first ones of ``trainer.get_eval_dataloader()``); 0 measures
            nothing and reads the training loss.
        save: write ``cyclr_range_test.json``, ``.csv`` and ``.png`` to ``args.output_dir`` (main process).

    Returns:
        The :class:`CyclicLRCallback`, added to the trainer; after training begins
        it holds ``result``, ``bounds`` and ``scheduler``.

    Raises:
        TypeError: ``trainer`` is not a ``transformers.Trainer``, or a wrong-typed option.
        ValueError: a bad option; at ``train()``, a curve without usable bounds.

    Examples:
        >>> import cyclr.transformers
        >>> # trainer = transformers.Trainer(model=model, args=args, train_dataset=data)
        >>> # callback = cyclr.transformers.attach(trainer, epochs_per_step=2)
        >>> # trainer.train(); print(callback.bounds)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer must be a transformers.Trainer, got {type(trainer).__name__}")
    if not isinstance(save, bool):
        raise TypeError(f"save must be a bool, got save={save!r}")
    if isinstance(val_batches, bool) or not isinstance(val_batches, int):
        raise TypeError(f"val_batches must be an int >= 0, got val_batches={val_batches!r}")
    if val_batches < 0:
        raise ValueError(f"val_batches must be an int >= 0, got val_batches={val_batches!r}")
    plan = _plugin.SchedulePlan(
        policy=policy, mode=mode, epochs_per_step=epochs_per_step, step_size_up=step_size_up, gamma=gamma,
        cycle_momentum=cycle_momentum, base_momentum=base_momentum, max_momentum=max_momentum, method=method,
        range_test=range_test or {},
    )
    callback = CyclicLRCallback(trainer, plan, val_batches=val_batches, save=save)
    trainer.add_callback(callback)

    def create_scheduler(self: Trainer, num_training_steps: int, optimizer: Optimizer | None = None) -> LRScheduler:
        optimizer = optimizer if optimizer is not None else self.optimizer
        if self.lr_scheduler is not None and self.lr_scheduler is not callback.scheduler:
            warnings.warn(
                f"cyclr.transformers.attach replaces the Trainer's scheduler "
                f"({type(self.lr_scheduler).__name__}) with cyclr's",
                UserWarning,
                stacklevel=2,
            )
        self.lr_scheduler = callback.placeholder(optimizer, num_training_steps)
        self._created_lr_scheduler = True
        return self.lr_scheduler

    trainer.create_scheduler = types.MethodType(create_scheduler, trainer)  # type: ignore[method-assign]
    return callback


def _class_hits(outputs: Any, labels: Any) -> tuple[int, int] | None:
    """(correct, counted) for one label per example and (batch, classes) logits; None for other tasks.

    Labels of -100 (the Trainer's "ignore") are not counted. Token-level and
    causal-LM outputs (whose labels are shifted inside the model) give None: the
    reading then uses ``val_loss``.
    """
    logits = outputs.get("logits") if isinstance(outputs, Mapping) else getattr(outputs, "logits", None)
    if not isinstance(logits, torch.Tensor) or not isinstance(labels, torch.Tensor):
        return None
    if logits.ndim != 2 or logits.shape[1] < 2 or labels.ndim != 1 or len(labels) != len(logits):
        return None
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        return None
    kept = labels != -100
    correct = int((logits.argmax(dim=1)[kept] == labels[kept]).sum())
    return correct, int(kept.sum())


def _bounds_of(scheduler: LRScheduler) -> Bounds | None:
    if isinstance(scheduler, CyclicLR):
        return Bounds(float(scheduler.base_lrs[0]), float(scheduler.max_lrs[0]), method="checkpoint")
    return None
