"""``cyclr find``: a range test from the command line, on a bundled task or on user factories."""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..schedules import recommended_step_size


# Range tests run for hundreds to a few thousand steps; far past this is a typo.
MAX_RANGE_TEST_ITERATIONS = 1_000_000


class FactoryError(ValueError):
    """A ``module:function`` path that cannot be imported or called as documented."""


class FactoryCallError(Exception):
    """The user's factory itself raised: its own error, not a bad argument."""


def call_factory(spec: str, factory: Callable[[], Any]) -> Any:
    """``factory()``; anything it raises comes back as a FactoryCallError naming ``spec``."""
    try:
        return factory()
    except Exception as exc:
        message = " ".join(str(exc).split()) or "(no message)"
        raise FactoryCallError(f"error in factory {spec}: {message} ({type(exc).__name__})") from exc


def check_sweep(start_lr: float | None, end_lr: float | None, num_iter: int | None, step_mode: str | None) -> None:
    """ValueError unless the sweep can be computed: a length within the cap, LRs finite all along.

    ``start_lr=None`` is the automatic mode, whose first sweep is exponential from
    :data:`cyclr.torch.finder.COARSE_START_LR`.
    """
    from ..torch.finder import COARSE_START_LR

    if num_iter is not None and num_iter > MAX_RANGE_TEST_ITERATIONS:
        raise ValueError(
            f"num_iter must be at most {MAX_RANGE_TEST_ITERATIONS:,} iterations, got num_iter={num_iter:,}"
        )
    for name, value in (("start_lr", start_lr), ("end_lr", end_lr)):
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {name}={value!r}")
    if end_lr is None:
        return
    start = COARSE_START_LR if start_lr is None else start_lr
    if end_lr <= start:
        what = "start_lr" if start_lr is not None else f"{COARSE_START_LR:g} (the automatic sweep's start)"
        raise ValueError(f"end_lr must be > {what}, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    exponential = start_lr is None or step_mode == "exp" or (step_mode is None and start > 0 and end_lr / start >= 100)
    if exponential and start > 0 and not math.isfinite(end_lr / start):
        raise ValueError(
            f"end_lr must be <= {start * sys.float_info.max:.3g} for an exponential sweep from {start:g} "
            f"(end_lr / start_lr must be finite), got end_lr={end_lr!r}"
        )


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
    model = call_factory(model_spec, make_model)
    if not isinstance(model, torch.nn.Module):
        raise FactoryError(f"--model: {model_spec}() must return a torch.nn.Module, got {type(model).__name__}")
    data = call_factory(data_spec, make_data)
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
    from ..torch import LRFinder

    finder = LRFinder(subject.model, subject.optimizer, subject.criterion, progress=progress)
    kwargs: dict[str, Any] = {"start_lr": start_lr, "end_lr": end_lr, "num_iter": num_iter, "step_mode": step_mode}
    if subject.val_loader is not None and num_iter is not None:
        kwargs["val_every"] = max(1, num_iter // 50)
    return finder.range_test(subject.train_loader, subject.val_loader, val_batches=None, **kwargs)


FIND_FILES = {"json": "range_test.json", "csv": "range_test.csv", "figure": "range_test.png"}


def write_find_outputs(result: Any, bounds: Any, out_dir: str | Path) -> dict[str, Path]:
    """The curve as CSV, a PNG with the bounds shaded (or the reason there are none), and, last, the JSON.

    Each file is written atomically; the folder holds an ``INCOMPLETE`` marker
    (and no range_test.json) until all three are in place.
    """
    from .._io import OutputSet, save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with OutputSet(out, manifest=FIND_FILES["json"]) as files:
        files.write("csv", FIND_FILES["csv"], result.to_csv)
        files.write("figure", FIND_FILES["figure"],
                    lambda p: save_figure(result.plot(bounds=bounds if bounds is not None else "auto"), p, dpi=110))
        files.write("json", FIND_FILES["json"], result.save)
    return {key: files.written[key] for key in FIND_FILES}


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
