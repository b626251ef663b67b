"""What the framework integrations share: the schedule built from the bounds, and the saved curve.

``cyclr.lightning`` and ``cyclr.transformers`` run the range test where their
trainers have the data ready, then hand the bounds to :class:`SchedulePlan`,
which validates the user's choices once (when the callback is built) and builds
the ``cyclr.torch`` scheduler. Every value a plan needs to rebuild the same
scheduler on resume is in :meth:`SchedulePlan.scheduler_kwargs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from . import _validate as check
from .rangetest import SUGGEST_METHODS, RangeTestResult
from .schedules import CYCLIC_BASE_MOMENTUM, CYCLIC_MAX_MOMENTUM, recommended_step_size
from .suggest import Bounds
from .torch import CyclicLR, OneCycleLR

POLICIES = ("cyclic", "1cycle")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
# range_test() options a caller may set; the integrations choose the loader, the model and the loss
RANGE_TEST_OPTIONS = frozenset(
    {"start_lr", "end_lr", "num_iter", "step_mode", "val_every", "smooth_beta", "diverge_th", "sync_every",
     "coarse_iter"}
)


@dataclasses.dataclass(frozen=True)
class SchedulePlan:
    """The schedule the user asked for, validated; :meth:`build` makes it once the bounds are known."""

    policy: str = "cyclic"
    mode: str = "triangular"
    epochs_per_step: float = 4.0
    step_size_up: int | None = None
    gamma: float = 1.0
    cycle_momentum: bool = False
    base_momentum: float = CYCLIC_BASE_MOMENTUM
    max_momentum: float = CYCLIC_MAX_MOMENTUM
    method: str = "auto"
    range_test: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check.choice("policy", self.policy, POLICIES)
        check.choice("mode", self.mode, CYCLIC_MODES)
        check.positive("epochs_per_step", self.epochs_per_step)
        if self.step_size_up is not None:
            check.positive_int("step_size_up", self.step_size_up)
        check.positive("gamma", self.gamma)
        if not isinstance(self.cycle_momentum, bool):
            raise TypeError(f"cycle_momentum must be a bool, got cycle_momentum={self.cycle_momentum!r}")
        check.in_range("base_momentum", self.base_momentum, 0.0, 1.0)
        check.in_range("max_momentum", self.max_momentum, 0.0, 1.0)
        check.ordered("base_momentum", self.base_momentum, "max_momentum", self.max_momentum)
        check.choice("method", self.method, SUGGEST_METHODS)
        if not isinstance(self.range_test, Mapping):
            raise TypeError(f"range_test must be a dict of range_test() options, got range_test={self.range_test!r}")
        unknown = sorted(set(self.range_test) - RANGE_TEST_OPTIONS)
        if unknown:
            raise ValueError(
                f"range_test has unknown options {unknown}; allowed: {sorted(RANGE_TEST_OPTIONS)}"
            )
        object.__setattr__(self, "range_test", dict(self.range_test))

    def scheduler_kwargs(self, bounds: Bounds, optimizer: Optimizer, iterations_per_epoch: int | None,
                         total_steps: int | None) -> dict[str, Any]:
        """Constructor arguments of the scheduler (without the optimizer), JSON-able.

        Raises:
            ValueError: the step size cannot be derived (unknown epoch length) or 1cycle has no step budget.
        """
        ratios = bounds.group_ratios if len(bounds.group_ratios) == len(optimizer.param_groups) else (1.0,)
        base = [bounds.base_lr * r for r in ratios] if len(ratios) > 1 else bounds.base_lr
        peak = [bounds.max_lr * r for r in ratios] if len(ratios) > 1 else bounds.max_lr
        momentum = {"cycle_momentum": self.cycle_momentum}
        if self.cycle_momentum:
            momentum |= {"base_momentum": self.base_momentum, "max_momentum": self.max_momentum}
        if self.policy == "1cycle":
            if total_steps is None or not math.isfinite(total_steps) or total_steps < 1:
                raise ValueError(
                    f"policy='1cycle' needs the run's number of optimizer steps, got total_steps={total_steps!r}; "
                    "set max_epochs or max_steps"
                )
            return {"max_lr": peak, "total_steps": int(total_steps), "div_factor": bounds.max_lr / bounds.base_lr,
                    **momentum}
        if self.step_size_up is not None:
            step = self.step_size_up
        elif iterations_per_epoch is None:
            raise ValueError(
                "the training data has no length, so the step size cannot be set from the epoch length; "
                "pass step_size_up=..."
            )
        else:
            step = recommended_step_size(iterations_per_epoch, self.epochs_per_step)
        return {"base_lr": base, "max_lr": peak, "step_size_up": step, "mode": self.mode, "gamma": self.gamma,
                **momentum}

    def build(self, optimizer: Optimizer, kwargs: Mapping[str, Any]) -> LRScheduler:
        """The scheduler on ``optimizer``; its momentum is left alone unless ``cycle_momentum``."""
        cls = OneCycleLR if self.policy == "1cycle" else CyclicLR
        return cls(optimizer, **kwargs)


def bounds_to_dict(bounds: Bounds) -> dict[str, Any]:
    """The part of the bounds that survives a checkpoint (plain floats and strings)."""
    return {"base_lr": float(bounds.base_lr), "max_lr": float(bounds.max_lr), "method": bounds.method,
            "explanation": bounds.explanation, "group_ratios": [float(r) for r in bounds.group_ratios]}


def bounds_from_dict(data: Mapping[str, Any]) -> Bounds:
    return Bounds(base_lr=data["base_lr"], max_lr=data["max_lr"], method=data["method"],
                  explanation=data.get("explanation", ""), group_ratios=tuple(data.get("group_ratios", (1.0,))))


def hyperparameters(optimizer: Optimizer) -> list[dict[str, Any]]:
    """Each param group's settings (lr, momentum, ...) without its parameters."""
    return [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]


def resume(plan: SchedulePlan, optimizer: Optimizer, kwargs: Mapping[str, Any],
           state: Mapping[str, Any]) -> LRScheduler:
    """The scheduler a checkpoint saved, continuing where it stopped.

    Building a scheduler resets the LR (and momentum) of every group; the
    optimizer already holds the checkpoint's values, so they are put back.
    """
    saved = hyperparameters(optimizer)
    scheduler = plan.build(optimizer, kwargs)
    scheduler.load_state_dict(dict(state))
    for group, values in zip(optimizer.param_groups, saved):
        group.update(values)
    return scheduler


def save_result(result: RangeTestResult, bounds: Bounds | None, directory: str | os.PathLike[str],
                stem: str = "cyclr_range_test") -> list[Path]:
    """Write the curve as JSON and CSV, and its figure as PNG when matplotlib is installed.

    Each file is written to a temporary name, then renamed. Returns the paths written.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, write in ((".json", result.save), (".csv", result.to_csv)):
        path = folder / f"{stem}{suffix}"
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        os.replace(tmp, path)
        written.append(path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return written
    figure = result.plot(bounds=bounds if bounds is not None else None)
    path = folder / f"{stem}.png"
    tmp = path.with_name(path.name + ".tmp")
    figure.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, path)
    written.append(path)
    return written


def scalar(value: Any) -> float | None:
    """A logged value as a float: tensors (their mean), numbers, metric objects (``compute()``); None otherwise."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    compute = getattr(value, "compute", None)
    if callable(compute):
        out = compute()
        reset = getattr(value, "reset", None)
        if callable(reset):
            reset()  # metric objects accumulate; the range test must not leave its batches in them
        return scalar(out)
    return None


@contextlib.contextmanager
def loader_left_alone(loader: Any) -> Iterator[None]:
    """Iterate ``loader`` in the range test without changing what the training loop sees next.

    An Accelerate ``DataLoaderShard`` counts its passes (the shuffling seed of
    the next epoch) and registers itself with the gradient state while a pass
    is open; the range test leaves its last pass unfinished.
    """
    iteration = getattr(loader, "iteration", None)
    try:
        yield
    finally:
        if isinstance(iteration, int) and hasattr(loader, "set_epoch"):
            loader.set_epoch(iteration)
        end = getattr(loader, "end", None)
        if callable(end) and hasattr(loader, "gradient_state"):
            end()
