"""``cyclr.torch.LRFinder``: the LR range test on a PyTorch model, leaving it exactly as it was.

This module is the training loop only: the sweep (the automatic two-stage
mode, the defaults, the checks) is planned by :mod:`cyclr.sweep_plan`, the
curve is recorded by :class:`~cyclr.rangetest.RangeTestRecorder`, which
decides when to stop, and read by :mod:`cyclr.suggest`.

Host syncs: the step losses stay on the device and are copied to the host
together every ``sync_every`` steps (on a GPU every ``.item()`` stalls the
pipeline, and the LR of the next step does not depend on the loss). A
divergence is therefore noticed up to ``sync_every - 1`` steps late; those
extra steps are not recorded and the state is restored anyway. With a
GradScaler the loop reads the scale once per step, because whether the step
counted decides the next LR.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (section 3.3, the range test).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from .. import _validate as check
from ..rangetest import RangeTestRecorder, RangeTestResult
from ..sweep_plan import (
    COARSE_START_LR,
    DEFAULT_END_LR,
    MIN_LINEAR_STEPS,
    ProgressBar,
    SweepPlan,
    linear_end_from_coarse,
    progress_bar,
    sized_length,
)
from . import distributed as _dist
from ._state import RestoreError, RngState, TrainingState, check_restorable

StepFn = Callable[[nn.Module, Any], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], Any]
ValFn = Callable[[nn.Module], Mapping[str, float]]

_NO_CONTEXT = contextlib.nullcontext()  # reusable, and cheaper than a new one every step
# Consecutive steps a GradScaler may skip before the loss counts as non-finite:
# from the default scale 2**16 that is far below any useful scale.
MAX_CONSECUTIVE_SKIPS = 30

__all__ = ["COARSE_START_LR", "DEFAULT_END_LR", "LRFinder", "MIN_LINEAR_STEPS", "linear_end_from_coarse"]


class LRFinder:
    """The LR range test for a PyTorch model and optimizer.

    Args:
        model: the model, as in the training loop.
        optimizer: its optimizer; the sweep sets the first parameter group's LR
            and keeps the other groups' ratios to it.
        criterion: the loss: ``criterion(model(inputs), targets)`` is the loss of an
            ``(inputs, targets)`` batch. Optional with ``step_fn``.
        device: where batches (and, during the test, the model) go; None leaves both where they are.
        step_fn: ``step_fn(model, batch) -> loss`` for models that do not fit
            ``(inputs, targets) -> criterion``: dict batches, several outputs or losses.
            Used for the validation loss too. The finder does backward, accumulation, AMP and the step.
        metric_fn: ``metric_fn(outputs, targets) -> value or {name: value}``, a batch mean,
            recorded on the validation batches next to ``val_loss`` and (for
            class-index targets) ``val_accuracy``. Not with ``step_fn`` or ``val_fn``.
        val_fn: ``val_fn(model) -> {name: value}``: replaces the built-in validation entirely.
        scaler: a ``torch.amp.GradScaler``; a step it skips does not advance the sweep.
        amp_dtype: run forward passes under ``torch.autocast`` with this dtype (float16 / bfloat16).
        state_device: where the one saved copy of the state lives (e.g. ``"cpu"``); None: beside each tensor.
        max_grad_norm: clip the gradients' total 2-norm to this before each step
            (``torch.nn.utils.clip_grad_norm_``), as the training loop does; None: no clipping.
        max_grad_value: clip each gradient element to ``[-value, value]``
            (``torch.nn.utils.clip_grad_value_``); not with ``max_grad_norm``.
        clip_fn: ``clip_fn(optimizer)``, called before each step once the step's
            gradients are summed (and unscaled under AMP), for a loop that clips its
            own way (e.g. a LightningModule's ``configure_gradient_clipping``); not
            with ``max_grad_norm`` or ``max_grad_value``.
        progress: show a tqdm bar.

    After :meth:`range_test` the parameters, buffers, gradients and train/eval
    flags of the model and (if it is a module) the criterion, every tensor in the
    optimizer's param groups, the optimizer's state (each tensor with its dtype
    and device) and hyperparameters, the GradScaler and torch's RNG are as
    before, bit for bit - also when the test raises or is interrupted; the curve
    recorded so far is then on ``finder.result`` and on the exception as
    ``range_test_result``. A test whose state cannot be kept (a tensor on the
    meta device) refuses to start. Should putting the state back fail, a
    :class:`~cyclr.torch._state.RestoreError` carries the saved copy as ``snapshot``.

    Raises:
        TypeError: an argument has the wrong type (a model that is not a module, a
            function that is not callable, ...).
        ValueError: neither ``criterion`` nor ``step_fn``, ``metric_fn`` with
            ``step_fn`` or ``val_fn``, a device that holds no data, a clipping
            threshold that is not positive, or more than one clipping option.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> from cyclr.torch import LRFinder
        >>> _ = torch.manual_seed(0)
        >>> x = torch.randn(256, 8)
        >>> y = (x[:, 0] > 0).long()
        >>> batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
        >>> model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        >>> finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), progress=False)
        >>> result = finder.range_test(batches, batches[:2], start_lr=0.0, end_lr=0.3, num_iter=40, val_every=4)
        >>> len(result), sorted(result.metrics)
        (40, ['val_accuracy', 'val_loss'])

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        criterion: Callable[..., torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        *,
        step_fn: StepFn | None = None,
        metric_fn: MetricFn | None = None,
        val_fn: ValFn | None = None,
        scaler: Any = None,
        amp_dtype: torch.dtype | None = None,
        state_device: torch.device | str | None = None,
        max_grad_norm: float | None = None,
        max_grad_value: float | None = None,
        clip_fn: Callable[[Optimizer], Any] | None = None,
        progress: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if criterion is None and step_fn is None:
            raise ValueError("criterion must be given unless step_fn computes the loss")
        functions = (("criterion", criterion), ("step_fn", step_fn), ("metric_fn", metric_fn), ("val_fn", val_fn),
                     ("clip_fn", clip_fn))
        for name, fn in functions:
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {fn!r}")
        if metric_fn is not None and (step_fn is not None or val_fn is not None):
            # the built-in validation that calls metric_fn needs model(inputs), which step_fn/val_fn bypass
            raise ValueError(
                "metric_fn needs the built-in validation (criterion on (inputs, targets) batches); "
                f"with {'step_fn' if step_fn is not None else 'val_fn'} return every metric from val_fn instead"
            )
        if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
            raise TypeError(f"scaler must be a torch.amp.GradScaler or None, got {type(scaler).__name__}")
        if amp_dtype is not None and amp_dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"amp_dtype must be torch.float16, torch.bfloat16 or None, got amp_dtype={amp_dtype!r}")
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be a bool, got {progress!r}")
        clipping = {name: value for name, value in (("max_grad_norm", max_grad_norm),
                    ("max_grad_value", max_grad_value), ("clip_fn", clip_fn)) if value is not None}
        if len(clipping) > 1:
            given = ", ".join(f"{name}={value!r}" for name, value in clipping.items())
            raise ValueError(f"give one of max_grad_norm, max_grad_value and clip_fn, not several: got {given}")
        self.max_grad_norm = None if max_grad_norm is None else check.positive("max_grad_norm", max_grad_norm)
        self.max_grad_value = None if max_grad_value is None else check.positive("max_grad_value", max_grad_value)
        self.clip_fn = clip_fn
        self.model = model
        self.optimizer = optimizer
        self.criterion = criterion
        self.device = _data_device("device", device)
        self.state_device = _data_device("state_device", state_device)
        self.step_fn = step_fn
        self.metric_fn = metric_fn
        self.val_fn = val_fn
        self.scaler = scaler if scaler is not None and scaler.is_enabled() else None
        self.amp_dtype = amp_dtype
        self.progress = progress
        self.result: RangeTestResult | None = None

    # --- public ------------------------------------------------------------------

    def range_test(
        self,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        start_lr: float | None = None,
        end_lr: float | None = None,
        num_iter: int | None = None,
        step_mode: str | None = None,
        *,
        accumulation_steps: int = 1,
        val_every: int | None = None,
        val_batches: int | None = 10,
        smooth_beta: float | None = None,
        diverge_th: float = 5.0,
        sync_every: int = 10,
        coarse_iter: int = 100,
    ) -> RangeTestResult:
        """Train while the LR rises; return the curve. The model is restored afterwards.

        With ``start_lr=None`` (the default, for when the LR scale is unknown) it
        runs two sweeps from the same starting state: a coarse exponential one
        from 1e-7 to ``end_lr`` (default 10) over ``coarse_iter`` steps, stopped
        where training diverges, then the paper's linear sweep from 0 up to that
        point with the validation metric. ``step_mode="exp"`` without ``start_lr``
        runs just one exponential sweep from 1e-7 over ``num_iter`` steps. With
        ``start_lr`` given it runs one sweep; ``step_mode=None`` then means linear
        when ``end_lr / start_lr < 100`` (the paper's sweep), else exponential.
        The plan is :class:`cyclr.sweep_plan.SweepPlan`'s, the same for every finder.

        Args:
            train_loader: any iterable of batches; re-iterated (cycled) when shorter than the sweep.
            val_loader: validation batches; the first ``val_batches`` of them are
                kept and evaluated every ``val_every`` steps (None: all of them).
            start_lr: the first LR of a single sweep; None: the automatic mode.
            end_lr: the last LR (of the coarse sweep in automatic mode); None: 10.
            num_iter: steps of the (main) sweep; default 8 epochs of ``train_loader``,
                within 100..1000 (300 when its length is unknown).
            step_mode: ``"linear"``, ``"exp"`` or None (see above).
            accumulation_steps: batches per optimizer step (their mean loss is recorded).
            val_every: steps between validations; default about 30 measurements per sweep.
            val_batches: validation batches kept; None: all of ``val_loader``.
            smooth_beta: the recorder's EMA factor; None: about a tenth of the
                sweep, see :func:`cyclr.rangetest.default_smooth_beta`.
            diverge_th: stop when the loss's EMA exceeds this many times its minimum.
            sync_every: steps between host copies of the losses (see the module docstring).
            coarse_iter: steps of the coarse exponential sweep (automatic mode only).

        Returns:
            The :class:`~cyclr.rangetest.RangeTestResult`; in automatic mode the
            coarse sweep is its ``coarse``.

        Raises:
            TypeError: a loader is not iterable, or an option has the wrong type.
            ValueError: an option is out of range, a loader is empty, or both
                ``val_loader`` and ``val_fn`` are given.
            NoSuggestionError: in automatic mode, the coarse sweep is too short
                to read, or the data ran out before the linear sweep had 20 steps.
            RestoreError: the state could not be put back.

        Examples:
            >>> import torch
            >>> from torch import nn
            >>> from cyclr.torch import LRFinder
            >>> _ = torch.manual_seed(0)
            >>> x = torch.randn(256, 8)
            >>> y = (x[:, 0] > 0).long()
            >>> batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
            >>> model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
            >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            >>> finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), progress=False)
            >>> result = finder.range_test(batches, batches[:2], num_iter=40, coarse_iter=20)
            >>> result.coarse.settings["stage"], result.settings["stage"], result.sweep.step_mode
            ('coarse', 'main', 'linear')

        References:
            Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
            https://arxiv.org/abs/1506.01186 (section 3.3)
        """
        if not isinstance(train_loader, Iterable):
            raise TypeError(f"train_loader must be an iterable of batches, got {type(train_loader).__name__}")
        if val_loader is not None and not isinstance(val_loader, Iterable):
            raise TypeError(f"val_loader must be an iterable of batches or None, got {type(val_loader).__name__}")
        accumulation = check.positive_int("accumulation_steps", accumulation_steps)
        sync = check.positive_int("sync_every", sync_every)
        plan = SweepPlan.build(
            start_lr, end_lr, num_iter, step_mode, batches_per_epoch=sized_length(train_loader),
            accumulation_steps=accumulation, val_every=val_every, val_batches=val_batches,
            smooth_beta=smooth_beta, diverge_th=diverge_th, coarse_iter=coarse_iter,
            settings={"accumulation_steps": accumulation, "sync_every": sync},
        )
        if val_loader is not None and self.val_fn is not None:
            raise ValueError("give either val_loader or val_fn, not both")
        ratios = self._group_ratios()
        check_restorable(self.model, self.optimizer, self.criterion, self.state_device)
        rng = RngState()  # iterating a shuffling DataLoader draws from torch's RNG
        try:
            first_batches = _peek(train_loader, "train_loader")
            cached_val = _take(val_loader, plan.val_batches) if val_loader is not None else None
        except BaseException:
            rng.restore()
            raise
        state = TrainingState(self.model, self.optimizer, self.scaler, self.state_device, self.criterion, rng=rng)
        loop = _Loop(self, ratios, plan.val_every, sync, accumulation, cached_val, train_loader, first_batches, state)
        try:
            self._move_to_device()
            return plan.run(loop, self._keep, validate=loop.has_validation, group_ratios=list(ratios))
        finally:
            # the traceback of a failed test keeps the frames: drop the copy of the model from them
            loop.state = None
            try:
                state.restore()
            except RestoreError as exc:
                exc.range_test_result = self.result  # type: ignore[attr-defined]
                raise
            del state

    # --- helpers --------------------------------------------------------------------

    def _group_ratios(self) -> tuple[float, ...]:
        groups = self.optimizer.param_groups
        lrs = [g["lr"] for g in groups]
        if len(lrs) == 1:
            return (1.0,)
        first = float(lrs[0])
        if first <= 0:
            raise ValueError(
                "the first parameter group's lr must be > 0 so the other groups keep their ratio to it, "
                f"got lrs={lrs}"
            )
        ratios = tuple(float(lr) / first for lr in lrs)
        for i, ratio in enumerate(ratios):
            if not ratio > 0:
                raise ValueError(f"every parameter group's lr must be > 0, got param_groups[{i}]['lr']={lrs[i]!r}")
        return ratios

    def _keep(self, result: RangeTestResult) -> None:
        self.result = result

    def _move_to_device(self) -> None:
        if self.device is None:
            return
        if any(t.device != self.device for t in itertools.chain(self.model.parameters(), self.model.buffers())):
            self.model.to(self.device)
            _move_state_to_params(self.optimizer)


class _Loop:
    """The training loop of one range_test call: what :meth:`SweepPlan.run` drives."""

    def __init__(
        self,
        finder: LRFinder,
        ratios: tuple[float, ...],
        val_every: int,
        sync_every: int,
        accumulation_steps: int,
        val: list[Any] | None,
        train_loader: Iterable[Any],
        batches: Iterator[Any],
        state: TrainingState,
    ) -> None:
        self.finder = finder
        self.ratios = ratios
        self.val_every = val_every
        self.sync_every = sync_every
        self.accumulation_steps = accumulation_steps
        self.val = val
        self.has_validation = val is not None or finder.val_fn is not None
        self.train_loader = train_loader
        self.batches = batches
        self.state: TrainingState | None = state
        device = finder.device
        if device is None:
            first = next(itertools.chain(finder.model.parameters(), finder.model.buffers()), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = device
        self.device_type = device.type
        self.batches_drawn = 0

    def restart(self) -> None:
        """Back to the saved state, with the training data from its start (the linear sweep after the coarse one)."""
        if self.state is None:
            raise RuntimeError("the range test is over: its saved state was released")
        self.state.restore()
        self.finder._move_to_device()
        self.batches = _cycle(self.train_loader, None)

    def autocast(self) -> Any:
        if self.finder.amp_dtype is None:
            return _NO_CONTEXT
        return torch.autocast(self.device_type, dtype=self.finder.amp_dtype)

    def train(self, recorder: RangeTestRecorder, validate: bool) -> None:
        """Train through ``recorder``'s sweep until it finishes or says stop."""
        f, batches = self.finder, self.batches
        groups = f.optimizer.param_groups
        pairs = list(zip(groups, self.ratios))
        lrs = [recorder.lr(i) for i in range(recorder.sweep.num_iter)]
        pending: list[torch.Tensor] = []
        f.model.train()
        bar = progress_bar(f.progress and _dist.is_main_process(), len(lrs), recorder.settings.get("stage", ""))
        scale = f.scaler.get_scale() if f.scaler is not None else 0.0
        skips = 0
        trained = 0
        try:
            while trained < len(lrs):
                lr = lrs[trained]
                for group, ratio in pairs:
                    group["lr"] = lr * ratio
                try:
                    loss = self.train_step(batches)
                except StopIteration:
                    self.flush(pending, recorder, bar)
                    recorder.stop("exhausted")
                    return
                if f.scaler is not None:
                    new_scale = f.scaler.get_scale()
                    skipped, scale = new_scale < scale, new_scale
                    if skipped:
                        skips += 1
                        if skips >= MAX_CONSECUTIVE_SKIPS:
                            self.flush(pending, recorder, bar)
                            recorder.stop("non_finite")
                            return
                        continue
                    skips = 0
                pending.append(loss)
                trained += 1
                due = validate and trained % self.val_every == 0
                if (due or len(pending) >= self.sync_every or trained == len(lrs)) and self.flush(
                    pending, recorder, bar
                ):
                    return
                if due:
                    recorder.record_metrics(self.validate())
        except BaseException:
            # keep the steps that completed; no collective here, other processes may not be failing
            with contextlib.suppress(Exception):
                self.flush(pending, recorder, bar, collective=False)
            raise
        finally:
            bar.close()

    def train_step(self, batches: Iterator[Any]) -> torch.Tensor:
        """One optimizer step over ``accumulation_steps`` batches; the mean loss, still on the device."""
        f = self.finder
        k = self.accumulation_steps
        f.optimizer.zero_grad(set_to_none=True)
        losses = []
        for _ in range(k):
            batch = next(batches)
            self.batches_drawn += 1
            with self.autocast():
                loss = self.loss(batch)
            scaled = loss / k if k > 1 else loss
            (f.scaler.scale(scaled) if f.scaler is not None else scaled).backward()
            detached = loss.detach()
            losses.append(detached if detached.dtype == torch.float32 else detached.float())
        self.clip_gradients()
        if f.scaler is not None:
            f.scaler.step(f.optimizer)
            f.scaler.update()
        else:
            f.optimizer.step()
        return losses[0] if k == 1 else torch.stack(losses).mean()

    def clip_gradients(self) -> None:
        """Clip the summed gradients as the training loop does (after unscaling them under AMP)."""
        f = self.finder
        if f.max_grad_norm is None and f.max_grad_value is None and f.clip_fn is None:
            return
        if f.scaler is not None:
            f.scaler.unscale_(f.optimizer)
        if f.clip_fn is not None:
            f.clip_fn(f.optimizer)
            return
        params = [p for group in f.optimizer.param_groups for p in group["params"] if p.grad is not None]
        if f.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, f.max_grad_norm)
        elif f.max_grad_value is not None:
            torch.nn.utils.clip_grad_value_(params, f.max_grad_value)

    def loss(self, batch: Any) -> torch.Tensor:
        f = self.finder
        batch = _to_device(batch, f.device)
        if f.step_fn is not None:
            loss = f.step_fn(f.model, batch)
        else:
            inputs, targets = _split_batch(batch)
            loss = f.criterion(f.model(inputs), targets)  # type: ignore[misc]
        if not isinstance(loss, torch.Tensor) or loss.ndim and loss.numel() != 1:
            raise TypeError(f"the loss must be a tensor with one element, got {_value_kind(loss)}")
        # a reshape would add an autograd node to every step; only a (1,)-shaped loss needs one
        return loss if loss.ndim == 0 else loss.reshape(())

    def flush(
        self, pending: list[torch.Tensor], recorder: RangeTestRecorder, bar: ProgressBar, collective: bool = True
    ) -> bool:
        """Copy the pending losses to the host (one sync, one collective) and record them; True: stop."""
        if not pending:
            return False
        stacked = torch.stack(pending)
        values = (_dist.reduce(stacked, average=True) if collective else stacked).tolist()
        pending.clear()
        stop = False
        for value in values:
            if recorder.record_loss(value):
                stop = True
                break
        bar.update(len(values))
        if recorder.step:
            bar.set_postfix(lr=f"{recorder.lr(recorder.step - 1):.3g}", loss=f"{recorder.ema_loss:.4g}",
                            refresh=False)
        return stop

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        f = self.finder
        was_training = [m.training for m in f.model.modules()]
        f.model.eval()
        try:
            if f.val_fn is not None:
                return _mean_across_ranks({str(k): float(v) for k, v in f.val_fn(f.model).items()}, self.device)
            return self.builtin_validation()
        finally:
            for m, mode in zip(f.model.modules(), was_training):
                m.training = mode

    def builtin_validation(self) -> dict[str, float]:
        """Loss, accuracy (class-index targets) and metric_fn on the cached batches, weighted by batch size."""
        f = self.finder
        sums: dict[str, torch.Tensor] = {}
        count: torch.Tensor | float = 0.0
        for raw in self.val or ():
            batch = _to_device(raw, f.device)
            with self.autocast():
                if f.step_fn is not None:
                    _add(sums, "val_loss", f.step_fn(f.model, batch).detach().float().reshape(()))
                    count += 1.0
                    continue
                inputs, targets = _split_batch(batch)
                outputs = f.model(inputs)
                n = float(len(targets))
                loss = f.criterion(outputs, targets)  # type: ignore[misc]
                _add(sums, "val_loss", loss.detach().float().reshape(()) * n)
            if _is_classification(outputs, targets):
                _add(sums, "val_accuracy", (outputs.argmax(dim=1) == targets).sum().float())
            if f.metric_fn is not None:
                extra = f.metric_fn(outputs, targets)
                items = extra.items() if isinstance(extra, Mapping) else [("val_metric", extra)]
                for name, value in items:
                    _add(sums, str(name), torch.as_tensor(value, dtype=torch.float32).detach().reshape(()) * n)
            count += n
        names = list(sums)
        device = next(iter(sums.values())).device
        stacked = torch.stack([*(sums[k].to(device) for k in names), torch.tensor(float(count), device=device)])
        totals = _dist.reduce(stacked, average=False).tolist()
        return {k: v / totals[-1] for k, v in zip(names, totals[:-1])}


# --- small helpers ---------------------------------------------------------------------


def _data_device(name: str, device: torch.device | str | None) -> torch.device | None:
    """``device`` as a torch.device; ValueError for the meta device, which keeps no values to restore."""
    if device is None:
        return None
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"{name} must be a torch.device, a str or None, got {device!r}")
    try:
        checked = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"{name} must name a torch device, got {name}={device!r}") from exc
    if checked.type == "meta":
        raise ValueError(f"{name} must be a device that holds data, got {name}={device!r}")
    return checked


def _move_state_to_params(optimizer: Optimizer) -> None:
    """Put each optimizer state tensor on its parameter's device, keeping its dtype (an fp32 master stays fp32).

    ``step`` stays where it is unless the group is ``capturable`` or ``fused``,
    as in ``Optimizer.load_state_dict``.
    """
    for group in optimizer.param_groups:
        step_on_device = bool(group.get("capturable") or group.get("fused"))
        for param in group["params"]:
            state = optimizer.state.get(param)
            for key, value in list((state or {}).items()):
                moves = key != "step" or step_on_device
                if moves and isinstance(value, torch.Tensor) and value.device != param.device:
                    state[key] = value.to(param.device)  # type: ignore[index]


def _peek(loader: Iterable[Any], name: str) -> Iterator[Any]:
    """An endless iterator over ``loader`` (re-iterated when it ends); ValueError if it has no batches."""
    it = iter(loader)
    try:
        first = next(it)
    except StopIteration:
        raise ValueError(f"{name} must yield at least one batch, got an empty {type(loader).__name__}") from None
    return _cycle(loader, itertools.chain([first], it))


def _cycle(loader: Iterable[Any], current: Iterator[Any] | None) -> Iterator[Any]:
    """Batches of ``loader`` pass after pass; stops when a pass yields nothing (a one-shot iterator)."""
    if current is not None:
        yield from current
    while True:
        it = iter(loader)
        got = False
        for batch in it:
            got = True
            yield batch
        if not got:
            return


def _take(loader: Iterable[Any], n: int | None) -> list[Any]:
    batches = list(itertools.islice(loader, n)) if n is not None else list(loader)
    if not batches:
        raise ValueError(f"val_loader must yield at least one batch, got an empty {type(loader).__name__}")
    return batches


def _to_device(batch: Any, device: torch.device | None) -> Any:
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return type(batch)({k: _to_device(v, device) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"a batch must be an (inputs, targets) pair for criterion(model(inputs), targets), got {_value_kind(batch)}; "
        "pass step_fn=... to handle other batches"
    )


def _value_kind(value: Any) -> str:
    """A few words on what ``value`` is, for an error message."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{type(value).__name__}"


def _is_classification(outputs: Any, targets: Any) -> bool:
    return (
        isinstance(outputs, torch.Tensor)
        and isinstance(targets, torch.Tensor)
        and outputs.ndim >= 2
        and outputs.shape[1] >= 2
        and not targets.is_floating_point()
        and targets.dtype != torch.bool
        and tuple(targets.shape) == (outputs.shape[0], *outputs.shape[2:])
    )


def _mean_across_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """``values`` averaged over processes (same keys on every rank), with one collective."""
    if not _dist.is_distributed():
        return values
    names = sorted(values)
    means = _dist.reduce(torch.tensor([values[k] for k in names], dtype=torch.float64, device=device), average=True)
    return dict(zip(names, means.tolist()))


def _add(sums: dict[str, torch.Tensor], name: str, value: torch.Tensor) -> None:
    sums[name] = sums[name] + value if name in sums else value
