"""``cyclr.lightning``: the LR range test at the start of ``Trainer.fit``, then the cyclic schedule.

    trainer = lightning.Trainer(max_epochs=24, callbacks=[cyclr.lightning.CyclicLRCallback()])

is the whole change to a Lightning script. When training starts, the callback
runs cyclr's range test with the fit's own objects - the training dataloader as
the trainer set it up (a ``DistributedSampler`` shard under DDP), the wrapped
model, the precision plugin and the module's ``training_step`` - restores the
model and optimizer, and installs :class:`cyclr.torch.CyclicLR` between the
suggested bounds on the optimizer from ``configure_optimizers``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.model_helpers import is_overridden
from lightning.pytorch.utilities.types import LRSchedulerConfig
from torch.optim.lr_scheduler import LRScheduler

from . import _plugin
from .rangetest import RangeTestResult
from .schedules import CYCLIC_BASE_MOMENTUM, CYCLIC_MAX_MOMENTUM
from .suggest import Bounds, NoSuggestionError
from .torch import LRFinder

__all__ = ["CyclicLRCallback"]


class CyclicLRCallback(Callback):
    """Run the LR range test when training starts and train with a cyclical LR between its bounds.

    At ``on_train_start`` (the training dataloader, the optimizer and the
    strategy are ready; a checkpoint's state is loaded) the callback:

    1. runs :meth:`cyclr.torch.LRFinder.range_test` on the training dataloader
       the trainer built, with the loss the module's ``training_step`` returns
       (``self.log`` calls are ignored during the test), under the fit's
       strategy (gradients synchronised under DDP, losses averaged across
       ranks), precision and gradient clipping (``gradient_clip_val`` and
       ``gradient_clip_algorithm``, or the module's own
       ``configure_gradient_clipping`` where it has one); with a validation dataloader and a
       ``validation_step``, the values that ``validation_step`` logs on the
       first ``val_batches`` batches are the test's metrics, so a logged
       accuracy gives the paper's reading;
    2. restores the model, optimizer, gradients and RNG bit for bit;
    3. reads the bounds (``method``; rank 0's bounds are broadcast) and
       replaces the optimizer's scheduler with :class:`cyclr.torch.CyclicLR`
       (``policy="cyclic"``) or :class:`cyclr.torch.OneCycleLR`
       (``policy="1cycle"``), stepped every optimizer step. A scheduler from
       ``configure_optimizers`` is dropped with a warning;
    4. on rank 0 writes ``cyclr_range_test.json``, ``.csv`` and ``.png``
       (with matplotlib) to the trainer's ``log_dir``.

    The scheduler is saved in checkpoints; a fit resumed with ``ckpt_path``
    continues the same cycle and does not run the test again.

    Args:
        policy: ``"cyclic"`` (the paper's CLR) or ``"1cycle"`` (over the whole fit).
        mode: CLR policy: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        epochs_per_step: half a cycle in epochs of this rank's data (the paper: 2-10).
        step_size_up: half a cycle in optimizer steps; overrides ``epochs_per_step``.
        gamma: the ``exp_range`` decay.
        cycle_momentum: also cycle SGD's momentum / Adam's beta1 between
            ``base_momentum`` and ``max_momentum``. Off by default: the user's
            momentum is kept (Adam's beta1 would otherwise drop to 0.8).
        base_momentum: the momentum at the LR's peak, with ``cycle_momentum``.
        max_momentum: the momentum at the LR's minimum, with ``cycle_momentum``.
        method: how to read the bounds, see :meth:`cyclr.RangeTestResult.suggest`.
        range_test: options of :meth:`cyclr.torch.LRFinder.range_test`
            (``start_lr``, ``end_lr``, ``num_iter``, ``step_mode``, ...); the
            default is its automatic two-stage sweep.
        val_batches: validation batches per measurement; 0 measures no metric.
        save: write the curve and figure to the trainer's ``log_dir``.
        progress: show the range test's progress bar (rank 0).

    Attributes:
        result: the :class:`~cyclr.RangeTestResult` (None before the test, and on resume).
        bounds: the :class:`~cyclr.Bounds` in use.
        scheduler: the installed scheduler.

    Raises:
        ValueError: a bad argument; or, when training starts, manual optimization,
            several optimizers or dataloaders, or a curve without usable bounds.
        TypeError: an argument of the wrong type.

    Examples:
        >>> import lightning as L
        >>> from cyclr.lightning import CyclicLRCallback
        >>> trainer = L.Trainer(max_epochs=8, callbacks=[CyclicLRCallback(epochs_per_step=2)],
        ...                     logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> # trainer.fit(model, datamodule): range test, then CLR between its bounds

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
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
        progress: bool = False,
    ) -> None:
        self.plan = _plugin.SchedulePlan(
            policy=policy, mode=mode, epochs_per_step=epochs_per_step, step_size_up=step_size_up, gamma=gamma,
            cycle_momentum=cycle_momentum, base_momentum=base_momentum, max_momentum=max_momentum, method=method,
            range_test=range_test or {},
        )
        if isinstance(val_batches, bool) or not isinstance(val_batches, int) or val_batches < 0:
            raise ValueError(f"val_batches must be an int >= 0, got val_batches={val_batches!r}")
        for name, flag in (("save", save), ("progress", progress)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {name}={flag!r}")
        self.val_batches = val_batches
        self.save = save
        self.progress = progress
        self.result: RangeTestResult | None = None
        self.bounds: Bounds | None = None
        self.scheduler: LRScheduler | None = None
        self._kwargs: dict[str, Any] | None = None
        self._loaded: dict[str, Any] | None = None

    # --- Lightning hooks ----------------------------------------------------------------

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run the range test and install the scheduler, or, on resume, rebuild the saved one.

        Args:
            trainer: the running Trainer (its dataloader, strategy and precision are used).
            pl_module: the module being fitted.
        """
        optimizer = _the_optimizer(trainer, pl_module)
        loaded, self._loaded = self._loaded, None
        if loaded:
            self._kwargs = dict(loaded["kwargs"])
            self.bounds = _plugin.bounds_from_dict(loaded["bounds"])
            self.result = None
            self.scheduler = _plugin.resume(self.plan, optimizer, self._kwargs, loaded["scheduler"])
            self._install(trainer, self.scheduler)
            return
        if trainer.lr_scheduler_configs:
            names = ", ".join(type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs)
            warnings.warn(
                f"CyclicLRCallback replaces the scheduler from configure_optimizers ({names}) with "
                f"cyclr's {'OneCycleLR' if self.plan.policy == '1cycle' else 'CyclicLR'}",
                UserWarning,
                stacklevel=2,
            )
        self.result = self._range_test(trainer, pl_module, optimizer)
        log_dir = trainer.log_dir if self.save else None  # a collective: every rank asks
        bounds: Bounds | None = None
        error: NoSuggestionError | None = None
        try:
            bounds = self.result.suggest(self.plan.method)
        except NoSuggestionError as exc:
            error = exc
        if trainer.is_global_zero and log_dir is not None:
            paths = _plugin.save_result(self.result, bounds, log_dir)
            rank_zero_info(f"cyclr range test saved to {paths[0].parent}")
        if error is not None:
            raise ValueError(f"the range test gave no usable bounds: {error}") from error
        bounds = trainer.strategy.broadcast(bounds, src=0)  # every rank trains with rank 0's bounds
        assert bounds is not None
        self.bounds = bounds
        self._kwargs = self.plan.scheduler_kwargs(
            bounds, optimizer, _optimizer_steps_per_epoch(trainer), _total_steps(trainer)
        )
        self.scheduler = self.plan.build(optimizer, self._kwargs)
        self._install(trainer, self.scheduler)
        rank_zero_info(f"cyclr bounds: {bounds}\ncyclr schedule: {type(self.scheduler).__name__}({self._kwargs})")

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: the scheduler's arguments, the bounds and the scheduler's state.

        Returns:
            The callback's state, empty before the scheduler is installed.
        """
        if self.scheduler is None or self.bounds is None or self._kwargs is None:
            return {}
        return {"kwargs": self._kwargs, "bounds": _plugin.bounds_to_dict(self.bounds),
                "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep a checkpoint's state, used at the next ``on_train_start`` instead of a new range test.

        Args:
            state_dict: what :meth:`state_dict` returned.
        """
        self._loaded = dict(state_dict) if state_dict else None

    # --- helpers ----------------------------------------------------------------------------

    def _range_test(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> RangeTestResult:
        strategy = trainer.strategy
        loader = _the_train_dataloader(trainer)
        counter = itertools.count()

        def step(model: torch.nn.Module, batch: Any) -> torch.Tensor:
            batch = strategy.batch_to_device(batch, dataloader_idx=0)
            with _logging_to(pl_module, None):
                out = strategy.training_step(batch, next(counter))
            loss = out.get("loss") if isinstance(out, Mapping) else out
            if not isinstance(loss, torch.Tensor):
                raise ValueError(
                    "training_step must return the loss (a tensor, or a dict with 'loss') for the range test, "
                    f"got {type(out).__name__}"
                )
            return loss

        val_fn = self._val_fn(trainer, pl_module)
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        finder = LRFinder(
            strategy.model or pl_module, optimizer, step_fn=step, val_fn=val_fn,
            scaler=scaler if isinstance(scaler, torch.amp.GradScaler) else None,
            progress=self.progress and trainer.is_global_zero,
            **_gradient_clipping(trainer, pl_module),
        )
        options = {"accumulation_steps": trainer.accumulate_grad_batches, **self.plan.range_test}
        if val_fn is None:
            options.pop("val_every", None)
        return finder.range_test(loader, **options)

    def _val_fn(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Any:
        loaders = trainer.val_dataloaders
        if not self.val_batches or loaders is None or not is_overridden("validation_step", pl_module):
            return None
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        if isinstance(loader, Mapping):
            return None
        rng = torch.get_rng_state()
        batches = list(itertools.islice(loader, self.val_batches))
        torch.set_rng_state(rng)
        if not batches:
            return None
        strategy = trainer.strategy

        def validate(model: torch.nn.Module) -> dict[str, float]:
            sums: dict[str, float] = {}
            for i, raw in enumerate(batches):
                logged: dict[str, Any] = {}
                with _logging_to(pl_module, logged):
                    out = strategy.validation_step(strategy.batch_to_device(raw, dataloader_idx=0), i)
                if not logged and isinstance(out, (torch.Tensor, Mapping)):
                    logged = {"val_loss": out.get("loss") if isinstance(out, Mapping) else out}
                for name, value in logged.items():
                    number = _plugin.scalar(value)
                    if number is not None:
                        sums[name] = sums.get(name, 0.0) + number
            if not sums:
                raise ValueError(
                    "validation_step logged no numbers during the range test; log a metric there "
                    "(e.g. self.log('val_acc', acc)) or pass val_batches=0"
                )
            return {name: total / len(batches) for name, total in sums.items()}

        return validate

    def _install(self, trainer: pl.Trainer, scheduler: LRScheduler) -> None:
        trainer.strategy.lr_scheduler_configs = [LRSchedulerConfig(scheduler, interval="step", frequency=1)]


@contextlib.contextmanager
def _logging_to(module: pl.LightningModule, sink: dict[str, Any] | None) -> Iterator[None]:
    """``module.log`` (and so ``log_dict``) writes into ``sink`` (None: nowhere) instead of the trainer."""

    def log(name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        if sink is not None:
            sink[name] = value

    had_own = "log" in module.__dict__
    previous = module.__dict__.get("log")
    module.__dict__["log"] = log
    try:
        yield
    finally:
        if had_own:
            module.__dict__["log"] = previous
        else:
            del module.__dict__["log"]


def _gradient_clipping(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
    """How fit clips, as LRFinder's clipping option.

    Fit calls the module's ``configure_gradient_clipping`` with the Trainer's
    ``gradient_clip_val`` and ``gradient_clip_algorithm`` before each step; the
    default one clips by them, which LRFinder does itself.
    """
    if is_overridden("configure_gradient_clipping", pl_module):

        def clip(optimizer: torch.optim.Optimizer) -> None:
            pl_module.configure_gradient_clipping(
                optimizer, gradient_clip_val=trainer.gradient_clip_val,
                gradient_clip_algorithm=trainer.gradient_clip_algorithm,
            )

        return {"clip_fn": clip}
    value = trainer.gradient_clip_val
    if value is None or float(value) <= 0:
        return {}
    algorithm = str(getattr(trainer.gradient_clip_algorithm, "value", trainer.gradient_clip_algorithm) or "norm")
    return {"max_grad_value" if algorithm == "value" else "max_grad_norm": float(value)}


def _the_optimizer(trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.optim.Optimizer:
    if not pl_module.automatic_optimization:
        raise ValueError(
            f"CyclicLRCallback needs automatic optimization, got {type(pl_module).__name__} with "
            "automatic_optimization=False; run cyclr.torch.LRFinder yourself"
        )
    if len(trainer.optimizers) != 1:
        raise ValueError(
            f"CyclicLRCallback needs exactly one optimizer, got {len(trainer.optimizers)} from configure_optimizers"
        )
    return trainer.optimizers[0]


def _the_train_dataloader(trainer: pl.Trainer) -> Any:
    loader = trainer.train_dataloader
    if loader is None or isinstance(loader, (Mapping, list, tuple)):
        raise ValueError(
            f"CyclicLRCallback needs one training dataloader, got {type(loader).__name__}; "
            "combine several into one dataloader"
        )
    return loader


def _optimizer_steps_per_epoch(trainer: pl.Trainer) -> int | None:
    """Optimizer steps in one epoch on this rank (its shard, after ``limit_train_batches``)."""
    batches = trainer.num_training_batches
    if not math.isfinite(batches) or batches < 1:
        return None
    return math.ceil(int(batches) / trainer.accumulate_grad_batches)


def _total_steps(trainer: pl.Trainer) -> int | None:
    total = trainer.estimated_stepping_batches
    return int(total) if math.isfinite(total) else None
