"""``cyclr find``: a range test from the command line, on a bundled task or on user factories."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .schedules import recommended_step_size


class FactoryError(ValueError):
    """A ``module:function`` path that cannot be imported or called as documented."""


def load_factory(spec: str, option: str) -> Callable[..., Any]:
    """The callable named by ``"pkg.module:function"`` (``option`` names the flag in messages)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise FactoryError(f"{option} must look like 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FactoryError(f"{option}: cannot import module {module_name!r} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise FactoryError(f"{option}: module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise FactoryError(f"{option}: {spec!r} is a {type(target).__name__}, not a callable")
    return target  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class Subject:
    """What a range test runs on: a model, its optimizer and loss, and the batches."""

    label: str
    model: Any
    optimizer: Any
    criterion: Any
    train_loader: Any
    val_loader: Any

    @property
    def iterations_per_epoch(self) -> int | None:
        try:
            return len(self.train_loader)
        except TypeError:
            return None


def subject_from_task(task: Any, seed: int = 0) -> Subject:
    """A bundled task's model (initialised by ``seed``), SGD with the task's settings, and its loaders."""
    import torch

    model = task.build_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=task.momentum, weight_decay=task.weight_decay)
    return Subject(
        task.name, model, optimizer, torch.nn.CrossEntropyLoss(), task.train_loader(seed), task.eval_loader("val")
    )


def subject_from_factories(
    model_spec: str, data_spec: str, momentum: float = 0.9, weight_decay: float = 0.0
) -> Subject:
    """``model_spec()`` -> nn.Module; ``data_spec()`` -> train_loader or (train_loader, val_loader); SGD; cross entropy."""
    import torch

    make_model = load_factory(model_spec, "--model")
    make_data = load_factory(data_spec, "--data")
    model = make_model()
    if not isinstance(model, torch.nn.Module):
        raise FactoryError(f"--model: {model_spec}() must return a torch.nn.Module, got {type(model).__name__}")
    data = make_data()
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise FactoryError(
                f"--data: {data_spec}() must return train_loader or (train_loader, val_loader), got {len(data)} items"
            )
        train_loader, val_loader = data
    else:
        train_loader, val_loader = data, None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum, weight_decay=weight_decay)
    return Subject(model_spec, model, optimizer, torch.nn.CrossEntropyLoss(), train_loader, val_loader)


def run_range_test(
    subject: Subject,
    num_iter: int | None,
    start_lr: float | None,
    end_lr: float | None,
    step_mode: str | None,
    progress: bool,
) -> Any:
    """``LRFinder.range_test`` on ``subject``; with a val_loader and a given ``num_iter``, validation about 50 times.

    With ``num_iter=None`` the finder picks the sweep's length and validates
    about 30 times over it.
    """
    from .torch import LRFinder

    finder = LRFinder(subject.model, subject.optimizer, subject.criterion, progress=progress)
    kwargs: dict[str, Any] = {"start_lr": start_lr, "end_lr": end_lr, "num_iter": num_iter, "step_mode": step_mode}
    if subject.val_loader is not None and num_iter is not None:
        kwargs["val_every"] = max(1, num_iter // 50)
    return finder.range_test(subject.train_loader, subject.val_loader, val_batches=None, **kwargs)


def write_find_outputs(result: Any, bounds: Any, out_dir: str | Path) -> dict[str, Path]:
    """The curve as JSON and CSV, and a PNG with the bounds shaded (or the reason there are none)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "range_test.json", "csv": out / "range_test.csv", "figure": out / "range_test.png"}
    result.save(paths["json"])
    result.to_csv(paths["csv"])
    result.plot(bounds=bounds if bounds is not None else "auto").savefig(paths["figure"], dpi=110)
    return paths


def describe_bounds(bounds: Any, iterations_per_epoch: int | None, epochs_per_step: float) -> list[str]:
    """The lines ``cyclr find`` prints: bounds, how they were read, warnings, the recommended step size."""
    lines = [
        f"base_lr = {bounds.base_lr:.4g}",
        f"max_lr  = {bounds.max_lr:.4g}",
        f"reading: {bounds.method}: {bounds.explanation}",
        *(f"warning: {w}" for w in bounds.warnings),
    ]
    if iterations_per_epoch:
        step = recommended_step_size(iterations_per_epoch, epochs_per_step)
        lines += [
            (
                f"step_size_up = {step} iterations ({epochs_per_step:g} epochs of {iterations_per_epoch}; "
                "the paper recommends 2-10 epochs)"
            ),
            (
                f"use: cyclr.torch.CyclicLR(optimizer, base_lr={bounds.base_lr:.4g}, max_lr={bounds.max_lr:.4g}, "
                f"step_size_up={step})"
            ),
        ]
    else:
        lines.append(
            f"step_size_up = {epochs_per_step:g} x (iterations per epoch); the train loader has no len(), "
            "so the iterations per epoch are unknown"
        )
    return lines
