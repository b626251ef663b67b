"""Drop-in replacements for ``torch.optim.lr_scheduler.CyclicLR`` and ``OneCycleLR``.

Same arguments, defaults, LR and momentum sequences and state_dict keys as
PyTorch's classes (switch by changing the import), with the values computed by
the framework-free schedules in :mod:`cyclr.schedules`. Extras are keyword-only:
``shape=`` and custom scale functions that are saved in the state_dict by name.
"""

from __future__ import annotations

import inspect
import math
import types
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .. import _validate as check
from ..scale import ScaleFn, _short, scale_fn_from_ref, scale_fn_to_ref
from ..schedules import (
    CYCLIC_BASE_MOMENTUM,
    CYCLIC_MAX_MOMENTUM,
    ONE_CYCLE_BASE_MOMENTUM,
    ONE_CYCLE_MAX_MOMENTUM,
    AnnealStrategy,
    CyclicMode,
    CyclicSchedule,
    OneCycleSchedule,
    ScaleMode,
    WaveShape,
    check_momentum_bounds,
)

__all__ = ["CyclicLR", "OneCycleLR"]


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per param group: a list/tuple of matching length, or a scalar repeated."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(
                f"{name} must have one value per param group: got {len(value)} values "
                f"for {groups} param groups ({name}={value!r})"
            )
        return [v.clone() if isinstance(v, Tensor) else v for v in value]
    return [value.clone() if isinstance(value, Tensor) else value] * groups


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")


def _momentum_key(optimizer: Optimizer, scheduler: str) -> bool:
    """Whether the optimizer's momentum is Adam-style ``betas[0]``; ValueError if it has none."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"cycle_momentum=True needs an optimizer with a 'momentum' or 'betas' hyper-parameter, "
            f"but {type(optimizer).__name__} has neither; pass cycle_momentum=False to {scheduler}"
        )
    return "betas" in optimizer.defaults


def _init_momentum(
    optimizer: Optimizer, use_beta1: bool, base_momentums: list[float], max_momentums: list[float], fresh: bool
) -> None:
    for base, high in zip(base_momentums, max_momentums):
        check_momentum_bounds(base, high)
    if not fresh:
        return
    for base, high, group in zip(base_momentums, max_momentums, optimizer.param_groups):
        _set_momentum(group, use_beta1, high)
        group["max_momentum"] = high
        group["base_momentum"] = base


def _setup_momentum(
    scheduler: LRScheduler, cycle_momentum: bool, base_momentum: Any, max_momentum: Any, fresh: bool
) -> None:
    """Set the scheduler's momentum attributes, PyTorch's, and on a fresh start the optimizer's momentum."""
    scheduler.cycle_momentum = cycle_momentum  # type: ignore[attr-defined]
    if not cycle_momentum:
        return
    optimizer = scheduler.optimizer
    use_beta1 = _momentum_key(optimizer, type(scheduler).__name__)
    base_momentums = _per_group("base_momentum", optimizer, base_momentum)
    max_momentums = _per_group("max_momentum", optimizer, max_momentum)
    scheduler.use_beta1 = use_beta1  # type: ignore[attr-defined]
    scheduler.base_momentums = base_momentums  # type: ignore[attr-defined]
    scheduler.max_momentums = max_momentums  # type: ignore[attr-defined]
    _init_momentum(optimizer, use_beta1, base_momentums, max_momentums, fresh)


def _set_lrs(optimizer: Optimizer, lrs: list[Any]) -> None:
    """Each param group's LR, in place for a tensor LR."""
    for lr, group in zip(lrs, optimizer.param_groups):
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(float(lr))
        else:
            group["lr"] = lr


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch`` as PyTorch's OneCycleLR takes them."""
    if total_steps is not None:
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    return epochs * steps_per_epoch


def _set_momentum(group: dict[str, Any], use_beta1: bool, value: float) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _check_finite(lrs: list[Any], step: int) -> None:
    """ValueError if a float LR overflowed (PyTorch would hand the optimizer inf or nan)."""
    for lr in lrs:
        if isinstance(lr, float) and not math.isfinite(lr):
            raise ValueError(f"the learning rate overflows to {lr!r} at step {step}")


def _warn_called_directly() -> None:
    warnings.warn(
        "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
        UserWarning,
        stacklevel=3,
    )


# --- loading a state_dict -----------------------------------------------------

# JSON and pickles can hold integers no float holds; the schedules compute in floats.
_MAX_MAGNITUDE = 2**1023
_BOOLS = ("cycle_momentum", "use_beta1", "three_phase", "_get_lr_called_within_step", "_is_initial", "verbose")
_PER_GROUP = ("base_lrs", "max_lrs", "base_momentums", "max_momentums", "_last_lr")


def _check_mapping(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name} must have string keys, got key {_short(key)}")


def _replaces_behaviour(cls: type, key: str) -> bool:
    """Whether an instance attribute ``key`` would hide a method, property or special name."""
    if key.startswith("__") or key in ("optimizer", "_schedules"):
        return True
    try:
        attr = inspect.getattr_static(cls, key)
    except AttributeError:
        return False
    return callable(attr) or hasattr(attr, "__get__")


def _checked_state(scheduler: LRScheduler, state_dict: Any) -> dict[str, Any]:
    """A copy of ``state_dict`` whose entries have the types a scheduler's state has."""
    _check_mapping("state_dict", state_dict)
    groups = len(scheduler.optimizer.param_groups)
    for key, value in state_dict.items():
        name = f"state_dict[{key!r}]"
        if _replaces_behaviour(type(scheduler), key):
            owner = type(scheduler).__name__
            raise ValueError(f"{name} is not part of a scheduler's state: it would replace {owner}.{key}")
        values = value if key in _PER_GROUP and isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > _MAX_MAGNITUDE:
                raise ValueError(f"{name} is too large, got {_short(v)}")
        if key in _BOOLS and not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {_short(value)}")
        if key in _PER_GROUP:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"{name} must be a list with one value per param group, got {_short(value)}")
            if len(value) != groups:
                raise ValueError(f"{name} must have {groups} values, one per param group, got {len(value)}")
            for v in value:
                check.real(name, v)
        if key in ("last_epoch", "_step_count"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, got {_short(value)}")
            if value < (-1 if key == "last_epoch" else 0):
                raise ValueError(f"{name} must be >= {-1 if key == 'last_epoch' else 0}, got {value!r}")
    return dict(state_dict)


def _apply_state(scheduler: Any, state: dict[str, Any], scale_fn: ScaleFn | None) -> None:
    """Load ``state`` and rebuild the schedules (which check every value); all or nothing."""
    before = dict(scheduler.__dict__)
    scheduler.__dict__.update(state)
    if scale_fn is not None:
        scheduler._scale_fn_custom = scale_fn
    try:
        if scheduler.cycle_momentum:
            if not isinstance(getattr(scheduler, "use_beta1", None), bool):
                raise ValueError("state_dict has cycle_momentum=True but no bool use_beta1")
            for base, high in zip(scheduler.base_momentums, scheduler.max_momentums):
                check_momentum_bounds(base, high)
        if isinstance(scheduler, CyclicLR):
            scheduler._build_schedules(scheduler.base_lrs)
        else:
            scheduler._build_schedules()
    except (TypeError, ValueError, AttributeError) as err:
        scheduler.__dict__.clear()
        scheduler.__dict__.update(before)
        if isinstance(err, AttributeError):
            raise ValueError(f"state_dict is missing an entry: {err}") from None
        raise
    except Exception as err:  # e.g. an overflow deep in the arithmetic of a huge value
        scheduler.__dict__.clear()
        scheduler.__dict__.update(before)
        raise ValueError(f"state_dict holds values no schedule can use: {err!r}") from None


class CyclicLR(LRScheduler):
    """Cyclical learning rate (Smith 2017), a drop-in for ``torch.optim.lr_scheduler.CyclicLR``.

    Call :meth:`step` after every batch. Arguments and defaults are PyTorch's;
    see :class:`cyclr.CyclicSchedule` for their meaning.

    Unlike PyTorch, a scale function registered with :func:`cyclr.register_scale_fn`
    (a function, or an instance of a registered dataclass) is saved in
    :meth:`state_dict` by name and restored by :meth:`load_state_dict`, which
    resolves names in the registry and imports nothing. An unregistered function
    is not saved, and saving warns.

    Args:
        optimizer: the wrapped optimizer.
        base_lr: lower bound, one for all param groups or a list with one per group.
        max_lr: upper bound, one for all param groups or a list with one per group.
        step_size_up: iterations of the rising half of a cycle.
        step_size_down: iterations of the falling half; None means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: decay of ``exp_range``.
        scale_fn: custom amplitude scale; overrides ``mode``.
        scale_mode: ``scale_fn`` reads the cycle number (``"cycle"``) or the iteration (``"iterations"``).
        cycle_momentum: cycle the momentum (or Adam's ``betas[0]``) opposite to the LR.
        base_momentum: the momentum at the LR's peak, one or one per group.
        max_momentum: the momentum at the LR's minimum, one or one per group.
        last_epoch: the index of the last batch when resuming; -1 to start.
        shape: keyword-only extra: ``"triangular"`` (PyTorch's), ``"welch"`` or ``"hann"`` wave.

    Raises:
        TypeError: ``optimizer`` is not a torch optimizer, or an argument has the wrong type.
        ValueError: an argument is out of range, a list does not have one value per
            param group, or ``cycle_momentum`` is set for an optimizer without momentum.

    Examples:
        >>> import torch
        >>> from cyclr.torch import CyclicLR
        >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        >>> scheduler = CyclicLR(optimizer, base_lr=0.001, max_lr=0.006, step_size_up=4)
        >>> for _ in range(4):
        ...     optimizer.step()
        ...     scheduler.step()
        >>> scheduler.get_last_lr()[0]
        0.006

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: CyclicMode = "triangular",
        gamma: float = 1.0,
        scale_fn: ScaleFn | None = None,
        scale_mode: ScaleMode = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = CYCLIC_BASE_MOMENTUM,
        max_momentum: float | list[float] = CYCLIC_MAX_MOMENTUM,
        last_epoch: int = -1,
        *,
        shape: WaveShape = "triangular",
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        self.step_size_up = step_size_up
        self.step_size_down = step_size_down
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self.shape = shape
        self._build_schedules(base_lrs)  # validates every argument above
        self.scale_mode = self._schedules[0].scale_mode
        self.total_size = self._schedules[0].total_size
        self.step_ratio = self._schedules[0].step_ratio
        _setup_momentum(self, cycle_momentum, base_momentum, max_momentum, fresh=last_epoch == -1)
        if last_epoch == -1:
            _set_lrs(optimizer, base_lrs)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _build_schedules(self, base_lrs: Sequence[Any]) -> None:
        self._schedules = [
            CyclicSchedule(
                base_lr=base,
                max_lr=high,
                step_size_up=self.step_size_up,
                step_size_down=self.step_size_down,
                mode=self.mode,
                gamma=self.gamma,
                scale_fn=self._scale_fn_custom,
                scale_mode=self.scale_mode,
                shape=self.shape,
            )
            for base, high in zip(base_lrs, self.max_lrs)
        ]

    @property
    def schedules(self) -> list[CyclicSchedule]:
        """The core schedule of each param group."""
        return list(self._schedules)

    def scale_fn(self, x: float) -> float:
        """The amplitude scale at ``x`` (PyTorch's ``scale_fn``).

        Args:
            x: the cycle number, or the iteration when ``scale_mode`` is ``"iterations"``.

        Returns:
            The factor that multiplies the amplitude ``max_lr - base_lr``.
        """
        return self._schedules[0].scale_at(x)

    def get_lr(self) -> list[float | Tensor]:
        """LRs for the current step; also sets the cycled momentum, as PyTorch does.

        Returns:
            One LR per param group.

        Raises:
            ValueError: the LR overflows to a non-finite value.
        """
        if not self._get_lr_called_within_step:
            _warn_called_directly()
        position, scale = self._schedules[0].wave(self.last_epoch)
        if self.cycle_momentum:
            for group, base, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, self.use_beta1, CyclicSchedule.momentum_from_wave(position, scale, base, high))
        lrs = []
        for schedule in self._schedules:  # a plain loop: get_lr runs every step
            lrs.append(schedule.lr_from_wave(position, scale))
        _check_finite(lrs, self.last_epoch)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's state_dict keys, plus ``scale_fn_ref`` naming a custom scale function.

        Returns:
            The scheduler's state, without the optimizer.
        """
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedules")}
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        state["scale_fn_ref"] = None
        if fn is None:
            return state
        try:
            state["scale_fn_ref"] = scale_fn_to_ref(fn)
        except TypeError as err:
            if isinstance(fn, types.FunctionType):
                warnings.warn(f"{err} It is left out of the state_dict.", UserWarning, stacklevel=2)
        if not isinstance(fn, types.FunctionType) and hasattr(fn, "__dict__"):
            state["_scale_fn_custom"] = dict(fn.__dict__)  # PyTorch's format for callable objects
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, or from PyTorch's own CyclicLR.

        A ``scale_fn_ref`` is resolved by registered name only: nothing is
        imported, so a checkpoint cannot run code. The state is checked as a
        whole and the scheduler is left unchanged when it is rejected.

        Args:
            state_dict: the output of :meth:`state_dict`.

        Raises:
            TypeError: ``state_dict`` is not a dict, or an entry has the wrong type.
            ValueError: an entry is out of range, would replace a method, or names
                an unregistered scale function.
        """
        state = _checked_state(self, state_dict)
        custom = state.pop("_scale_fn_custom", None)
        ref = state.pop("scale_fn_ref", None)
        if custom is not None:
            _check_mapping("state_dict['_scale_fn_custom']", custom)
        resolved = None if ref is None else scale_fn_from_ref(ref)
        if "step_size_up" not in state and ("total_size" in state or "step_ratio" in state):
            # PyTorch's state stores the cycle as total_size and step_ratio
            total = check.positive("state_dict['total_size']", state.get("total_size", self.total_size))
            ratio = check.in_range("state_dict['step_ratio']", state.get("step_ratio", self.step_ratio), 0.0, 1.0)
            up = total * ratio
            state["step_size_up"] = round(up) if abs(up - round(up)) < 1e-9 else up
            state["step_size_down"] = total - state["step_size_up"]
        _apply_state(self, state, resolved)
        if resolved is None and custom is not None and self._scale_fn_custom is not None:
            own = getattr(self._scale_fn_custom, "__dict__", None)
            if isinstance(own, dict):  # PyTorch's format: the attributes of a callable object
                own.update({k: v for k, v in custom.items() if k in own})


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith 2018), a drop-in for ``torch.optim.lr_scheduler.OneCycleLR``.

    Arguments and defaults are PyTorch's; see :class:`cyclr.OneCycleSchedule`.
    Call :meth:`step` after every batch, ``total_steps`` times at most.

    Args:
        optimizer: the wrapped optimizer.
        max_lr: the peak LR, one for all param groups or a list with one per group.
        total_steps: optimizer updates in the whole run; or give ``epochs`` and ``steps_per_epoch``.
        epochs: epochs in the run, with ``steps_per_epoch``.
        steps_per_epoch: updates per epoch, with ``epochs``.
        pct_start: fraction of the run spent warming up.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle the momentum (or Adam's ``betas[0]``) opposite to the LR.
        base_momentum: the momentum at the LR's peak, one or one per group.
        max_momentum: the momentum at the LR's minimum, one or one per group.
        div_factor: the initial LR is ``max_lr / div_factor``.
        final_div_factor: the last LR is ``initial_lr / final_div_factor``.
        three_phase: come back down to the initial LR before the final anneal.
        last_epoch: the index of the last batch when resuming; -1 to start.

    Raises:
        TypeError: ``optimizer`` is not a torch optimizer, or an argument has the wrong type.
        ValueError: an argument is out of range, neither ``total_steps`` nor
            ``epochs`` and ``steps_per_epoch`` is given, or ``cycle_momentum`` is
            set for an optimizer without momentum.

    Examples:
        >>> import torch
        >>> from cyclr.torch import OneCycleLR
        >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        >>> scheduler = OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
        >>> round(scheduler.get_last_lr()[0], 6)
        0.004

    References:
        Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
        https://arxiv.org/abs/1803.09820

        Smith & Topin, "Super-Convergence", https://arxiv.org/abs/1708.07120
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: AnnealStrategy = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = ONE_CYCLE_BASE_MOMENTUM,
        max_momentum: float | list[float] = ONE_CYCLE_MAX_MOMENTUM,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase
        self._build_schedules()  # validates every argument above
        _setup_momentum(self, cycle_momentum, base_momentum, max_momentum, fresh=last_epoch == -1)
        if last_epoch == -1:
            for schedule, group in zip(self._schedules, optimizer.param_groups):
                group["initial_lr"] = schedule.initial_lr
                group["max_lr"] = schedule.max_lr
                group["min_lr"] = schedule.min_lr
        super().__init__(optimizer, last_epoch)

    def _build_schedules(self) -> None:
        self._schedules = [
            OneCycleSchedule(
                max_lr=high,
                total_steps=self.total_steps,
                pct_start=self.pct_start,
                anneal_strategy=self.anneal_strategy,
                div_factor=self.div_factor,
                final_div_factor=self.final_div_factor,
                three_phase=self.three_phase,
            )
            for high in self.max_lrs
        ]

    @property
    def schedules(self) -> list[OneCycleSchedule]:
        """The core schedule of each param group."""
        return list(self._schedules)

    def get_lr(self) -> list[float | Tensor]:
        """LRs for the current step; also sets the cycled momentum, as PyTorch does.

        Returns:
            One LR per param group.

        Raises:
            ValueError: stepped more than ``total_steps`` times.
        """
        if not self._get_lr_called_within_step:
            _warn_called_directly()
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        first = self._schedules[0]
        index, pct = first.phase(step)
        if self.cycle_momentum:  # momentum phases do not depend on the group's LR
            for group, base, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, self.use_beta1, first.momentum_from_phase(index, pct, base, high))
        lrs = []
        for schedule in self._schedules:  # a plain loop: get_lr runs every step
            lrs.append(schedule.lr_from_phase(index, pct))
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's state_dict keys.

        Returns:
            The scheduler's state, without the optimizer.
        """
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedules")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, or from PyTorch's own OneCycleLR.

        The state is checked as a whole and the scheduler is left unchanged when it is rejected.

        Args:
            state_dict: the output of :meth:`state_dict`.

        Raises:
            TypeError: ``state_dict`` is not a dict, or an entry has the wrong type.
            ValueError: an entry is out of range or would replace a method.
        """
        _apply_state(self, _checked_state(self, state_dict), None)
