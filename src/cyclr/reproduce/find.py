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

__all__ = [
    "FIND_FILES",
    "MAX_RANGE_TEST_ITERATIONS",
    "FactoryCallError",
    "FactoryError",
    "Subject",
    "call_factory",
    "check_sweep",
    "describe_bounds",
    "load_factory",
    "run_range_test",
    "subject_from_factories",
    "subject_from_task",
    "write_find_outputs",
]
# Range tests run for hundreds to a few thousand steps; far past this is a typo.
MAX_RANGE_TEST_ITERATIONS = 1_000_000


class FactoryError(ValueError):
    """A ``module:function`` path that cannot be imported or called as documented.

    Examples:
        >>> load_factory("math", "--model")
        Traceback (most recent call last):
        ...
        cyclr.reproduce.find.FactoryError: --model must look like 'package.module:function', got 'math'
    """


class FactoryCallError(Exception):
    """The user's factory itself raised: its own error, not a bad argument.

    Examples:
        >>> call_factory("pkg.mod:make", lambda: 1 / 0)
        Traceback (most recent call last):
        ...
        cyclr.reproduce.find.FactoryCallError: error in factory pkg.mod:make: division by zero (ZeroDivisionError)
    """


def call_factory(spec: str, factory: Callable[[], Any]) -> Any:
    """Call ``factory()``; anything it raises comes back as a FactoryCallError naming ``spec``.

    Args:
        spec: the ``module:function`` path the factory was loaded from, for the message.
        factory: the callable.

    Returns:
        What ``factory()`` returns.

    Raises:
        FactoryCallError: ``factory()`` raised; the message is one line.

    Examples:
        >>> call_factory("builtins:list", list)
        []
    """
    try:
        return factory()
    except Exception as exc:
        message = " ".join(str(exc).split()) or "(no message)"
        raise FactoryCallError(f"error in factory {spec}: {message} ({type(exc).__name__})") from exc


def check_sweep(start_lr: float | None, end_lr: float | None, num_iter: int | None, step_mode: str | None) -> None:
    """ValueError unless the sweep can be computed: a length within the cap, LRs finite all along.

    ``start_lr=None`` is the automatic mode, whose first sweep is exponential from
    :data:`cyclr.torch.finder.COARSE_START_LR`.

    Args:
        start_lr: the first LR, or None for the automatic mode.
        end_lr: the last LR, or None for the finder's default.
        num_iter: the sweep's length, or None for the finder's default.
        step_mode: ``"linear"``, ``"exp"`` or None (exp when ``end_lr / start_lr >= 100``).

    Raises:
        ValueError: the sweep is past :data:`MAX_RANGE_TEST_ITERATIONS`, an LR is
            not finite, ``end_lr`` is not above the start, or an exponential
            sweep's ratio overflows.

    Examples:
        >>> check_sweep(1e-4, 1.0, 100, "exp")
        >>> check_sweep(0.1, 0.01, 100, None)
        Traceback (most recent call last):
        ...
        ValueError: end_lr must be > start_lr, got start_lr=0.1, end_lr=0.01

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.3: the range test)
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
    """The callable named by ``"pkg.module:function"``.

    Args:
        spec: the path, ``"package.module:function"`` (the function may be dotted: ``"mod:Class.method"``).
        option: the command-line flag it came from, named in messages.

    Returns:
        The callable.

    Raises:
        FactoryError: ``spec`` is malformed, its module cannot be imported, or it
            names no attribute or a non-callable one.

    Examples:
        >>> load_factory("math:sqrt", "--model")(9.0)
        3.0
    """
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
    """What a range test runs on: a model, its optimizer and loss, and the batches.

    Args:
        label: names the subject in messages (a task's name or a factory path).
        model: the ``torch.nn.Module``.
        optimizer: its optimizer.
        criterion: the loss, ``criterion(model(inputs), targets)``.
        train_loader: the training batches.
        val_loader: the validation batches, or None to read the training loss.

    Examples:
        >>> subject = Subject("toy", None, None, None, train_loader=[(1, 2)] * 5, val_loader=None)
        >>> subject.iterations_per_epoch
        5
    """

    label: str
    model: Any
    optimizer: Any
    criterion: Any
    train_loader: Any
    val_loader: Any

    @property
    def iterations_per_epoch(self) -> int | None:
        """``len(train_loader)``, or None for a loader without a length."""
        try:
            return len(self.train_loader)
        except TypeError:
            return None


def subject_from_task(task: Any, seed: int = 0) -> Subject:
    """A bundled task's model (initialised by ``seed``), SGD with the task's settings, and its loaders.

    Args:
        task: a :class:`cyclr.reproduce.tasks.Task`.
        seed: fixes the initial weights and the batch order.

    Returns:
        The :class:`Subject`, validated on the task's validation split.

    Examples:
        >>> import torch
        >>> from cyclr.reproduce.tasks import Split, Task
        >>> inputs = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        >>> split = Split(inputs, (inputs[:, 0] > 0).long())
        >>> task = Task("toy", "two halves of a plane", split, split, split, lambda: torch.nn.Linear(2, 2),
        ...             batch_size=16, epochs=4, epochs_per_step=1, range_test_epochs=2)
        >>> subject = subject_from_task(task, seed=0)
        >>> subject.label, subject.iterations_per_epoch
        ('toy', 4)
    """
    import torch

    model = task.build_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=task.momentum, weight_decay=task.weight_decay)
    return Subject(
        task.name, model, optimizer, torch.nn.CrossEntropyLoss(), task.train_loader(seed), task.eval_loader("val")
    )


def subject_from_factories(
    model_spec: str, data_spec: str, momentum: float = 0.9, weight_decay: float = 0.0
) -> Subject:
    """A subject from the user's factories, trained by SGD on cross entropy.

    Args:
        model_spec: ``"module:function"`` returning a ``torch.nn.Module``.
        data_spec: ``"module:function"`` returning ``train_loader`` or ``(train_loader, val_loader)``.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.

    Returns:
        The :class:`Subject`, labelled by ``model_spec``.

    Raises:
        FactoryError: a path cannot be loaded, or a factory returns the wrong kind of thing.
        FactoryCallError: a factory raised.

    Examples:
        >>> subject_from_factories("torch.nn:Identity", "builtins:tuple")
        Traceback (most recent call last):
        ...
        cyclr.reproduce.find.FactoryError: --data: builtins:tuple() must return train_loader or (train_loader, val_loader), got 0 items
    """
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

    Args:
        subject: what to run the test on.
        num_iter: the sweep's length, or None for the finder's choice.
        start_lr: the first LR, or None for the automatic two-stage sweep.
        end_lr: the last LR, or None for the finder's default.
        step_mode: ``"linear"``, ``"exp"`` or None for the finder's choice.
        progress: show a progress bar.

    Returns:
        The :class:`cyclr.RangeTestResult`.

    Raises:
        ValueError: the finder rejects the sweep or the batches.
        TypeError: the finder rejects an argument's type.

    Examples:
        >>> import torch
        >>> from cyclr.reproduce.tasks import Split, Task
        >>> inputs = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        >>> split = Split(inputs, (inputs[:, 0] > 0).long())
        >>> task = Task("toy", "two halves of a plane", split, split, split, lambda: torch.nn.Linear(2, 2),
        ...             batch_size=16, epochs=4, epochs_per_step=1, range_test_epochs=2)
        >>> result = run_range_test(subject_from_task(task), 20, 1e-3, 1.0, "exp", progress=False)
        >>> len(result), result.log_scale
        (20, True)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.3: the range test)
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

    Args:
        result: the :class:`cyclr.RangeTestResult`.
        bounds: the :class:`cyclr.Bounds` to shade, or None when the curve gave
            none (the figure then says why).
        out_dir: the folder to write into; created if missing.

    Returns:
        The path of each file, by the keys of :data:`FIND_FILES`.

    Raises:
        OSError: a file cannot be written (the folder is then marked ``INCOMPLETE``).

    Examples:
        >>> import tempfile
        >>> import numpy as np
        >>> from cyclr import RangeSweep, RangeTestRecorder
        >>> recorder = RangeTestRecorder(RangeSweep(1e-4, 1.0, 30, "exp"))
        >>> stopped = [recorder.record_loss(2.0 - np.sin(np.pi * i / 30)) for i in range(30)]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     sorted(path.name for path in write_find_outputs(recorder.result(), None, folder).values())
        ['range_test.csv', 'range_test.json', 'range_test.png']
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
    """The lines ``cyclr find`` prints: bounds, how they were read, warnings, the recommended step size.

    Args:
        bounds: the :class:`cyclr.Bounds` read from the curve.
        iterations_per_epoch: updates per epoch, or None when the loader has no length.
        epochs_per_step: the half-cycle in epochs for the recommended step size.

    Returns:
        The lines, ending with a ``CyclicLR`` call to paste when the epoch length is known.

    Examples:
        >>> from cyclr import Bounds
        >>> lines = describe_bounds(Bounds(0.01, 0.1, "valley", "by hand"), 63, 4)
        >>> print(lines[-1])
        use: cyclr.torch.CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=252)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Section 3.2: the step size)
    """
    lines = [
        f"base_lr = {bounds.base_lr:.4g}",
        f"max_lr  = {bounds.max_lr:.4g}",
        f"reading: {bounds.method}: {bounds.explanation}",
        *(f"warning: {warning}" for warning in bounds.warnings),
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
