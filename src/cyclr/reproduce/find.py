"""``cyclr find``: a range test from the command line, on a bundled task or on user factories."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..schedules import recommended_step_size

__all__ = [
    "FIND_FILES",
    "LOSSES",
    "MAX_RANGE_TEST_ITERATIONS",
    "OPTIMIZERS",
    "FactoryCallError",
    "FactoryError",
    "OptimizerChoice",
    "Subject",
    "call_factory",
    "check_sweep",
    "cwd_importable",
    "describe_bounds",
    "load_criterion",
    "load_factory",
    "split_data",
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


@contextlib.contextmanager
def cwd_importable() -> Iterator[None]:
    """Make modules in the current folder importable inside the block, as ``python -m`` does.

    The current folder goes first on ``sys.path`` and is taken off again when the
    block ends (modules imported meanwhile stay imported).

    Yields:
        Nothing.

    Examples:
        >>> import os, sys
        >>> with cwd_importable():
        ...     sys.path[0] == os.getcwd()
        True
    """
    folder = os.getcwd()
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
# torch's defaults, except SGD's momentum: 0.9, the paper's setting.
_DEFAULT_MOMENTUM = {"sgd": 0.9, "adam": 0.9, "adamw": 0.9, "rmsprop": 0.0}
_DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "adam": 0.0, "adamw": 0.01, "rmsprop": 0.0}


@dataclasses.dataclass(frozen=True)
class OptimizerChoice:
    """A ``torch.optim`` optimizer chosen by name: ``sgd``, ``adam``, ``adamw`` or ``rmsprop``.

    ``momentum`` is SGD's and RMSprop's momentum, and Adam's and AdamW's beta1
    (beta2 stays 0.999). ``None`` takes the default: momentum 0.9 (RMSprop: 0),
    weight decay 0 (AdamW: 0.01).

    Args:
        name: one of :data:`OPTIMIZERS`.
        momentum: in [0, 1] (below 1 for Adam and AdamW), or None.
        weight_decay: >= 0, or None.

    Raises:
        ValueError: an unknown name, or a value out of range.

    Examples:
        >>> import torch
        >>> choice = OptimizerChoice("adam", momentum=0.8)
        >>> choice.describe()
        'Adam(betas=(0.8, 0.999), weight_decay=0)'
        >>> choice.build(torch.nn.Linear(2, 1).parameters(), lr=0.01).defaults["betas"]
        (0.8, 0.999)
        >>> OptimizerChoice("adam", momentum=1.0)
        Traceback (most recent call last):
        ...
        ValueError: momentum must be in [0, 1) for adam (it is beta1), got 1
    """

    name: str = "sgd"
    momentum: float | None = None
    weight_decay: float | None = None

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got optimizer={self.name!r}")
        if self.momentum is not None:
            adam = self.name in ("adam", "adamw")
            if not (0 <= self.momentum < 1 if adam else 0 <= self.momentum <= 1):
                rule = f"[0, 1) for {self.name} (it is beta1)" if adam else "[0, 1]"
                raise ValueError(f"momentum must be in {rule}, got {self.momentum:g}")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay:g}")

    @property
    def settings(self) -> tuple[float, float]:
        """``(momentum, weight_decay)`` with the defaults filled in."""
        momentum = _DEFAULT_MOMENTUM[self.name] if self.momentum is None else self.momentum
        decay = _DEFAULT_WEIGHT_DECAY[self.name] if self.weight_decay is None else self.weight_decay
        return momentum, decay

    def build(self, params: Any, lr: float) -> Any:
        """The ``torch.optim`` optimizer over ``params`` with learning rate ``lr``."""
        import torch

        momentum, decay = self.settings
        if self.name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=decay)
        if self.name == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=decay)
        kind = torch.optim.Adam if self.name == "adam" else torch.optim.AdamW
        return kind(params, lr=lr, betas=(momentum, 0.999), weight_decay=decay)

    def describe(self) -> str:
        """The optimizer and its settings in one phrase, for reports."""
        momentum, decay = self.settings
        if self.name in ("adam", "adamw"):
            kind = "Adam" if self.name == "adam" else "AdamW"
            return f"{kind}(betas=({momentum:g}, 0.999), weight_decay={decay:g})"
        kind = "SGD" if self.name == "sgd" else "RMSprop"
        return f"{kind}(momentum={momentum:g}, weight_decay={decay:g})"


# --loss names -> torch.nn classes.
LOSSES = {
    "cross_entropy": "CrossEntropyLoss",
    "nll": "NLLLoss",
    "mse": "MSELoss",
    "l1": "L1Loss",
    "smooth_l1": "SmoothL1Loss",
    "huber": "HuberLoss",
    "bce": "BCELoss",
    "bce_logits": "BCEWithLogitsLoss",
}


def load_criterion(spec: str) -> Any:
    """The loss named by ``spec``: a name of :data:`LOSSES`, or a ``module:function`` factory returning one.

    Args:
        spec: ``"mse"``, ``"cross_entropy"``, ...; a value containing ``:`` is a
            factory called with no arguments.

    Returns:
        The criterion, ``criterion(outputs, targets) -> loss``.

    Raises:
        FactoryError: an unknown name, a bad factory path, or a factory that
            returns something not callable.
        FactoryCallError: the factory raised.

    Examples:
        >>> load_criterion("mse")
        MSELoss()
        >>> load_criterion("nope")
        Traceback (most recent call last):
        ...
        cyclr.reproduce.find.FactoryError: --loss must be one of cross_entropy, nll, mse, l1, smooth_l1, huber, bce, bce_logits or a 'package.module:function' factory, got 'nope'
    """
    import torch

    if ":" not in spec:
        if spec not in LOSSES:
            raise FactoryError(
                f"--loss must be one of {', '.join(LOSSES)} or a 'package.module:function' factory, got {spec!r}"
            )
        return getattr(torch.nn, LOSSES[spec])()
    criterion = call_factory(spec, load_factory(spec, "--loss"))
    if not callable(criterion):
        raise FactoryError(f"--loss: {spec}() must return a callable criterion, got {type(criterion).__name__}")
    return criterion


def _is_batch(item: Any) -> bool:
    """A single batch: a tensor, a dict, or a tuple/list holding a tensor itself (not a loader of batches)."""
    import torch

    if isinstance(item, (torch.Tensor, Mapping)):
        return True
    return isinstance(item, (tuple, list)) and any(isinstance(part, torch.Tensor) for part in item)


def split_data(data: Any, spec: str) -> tuple[Any, Any, Any]:
    """What a ``--data`` factory returned, as ``(train, val, test)``; missing parts are None.

    A factory returns ``train``, ``(train, val)`` or ``(train, val, test)``; each
    part is a loader or any iterable of batches, a list of ``(inputs, targets)``
    tuples included. A list or tuple whose items are batches themselves is the
    training batches alone.

    Args:
        data: the factory's return value.
        spec: the factory's path, for messages.

    Returns:
        ``(train, val, test)``.

    Raises:
        FactoryError: a tuple or list of loaders of another length.

    Examples:
        >>> import torch
        >>> batches = [(torch.zeros(2, 3), torch.zeros(2))] * 4
        >>> [len(part) if part else part for part in split_data(batches, "m:f")]
        [4, None, None]
        >>> [len(part) for part in split_data((batches, batches[:2]), "m:f")[:2]]
        [4, 2]
    """
    if not isinstance(data, (tuple, list)) or any(_is_batch(item) for item in data):
        return data, None, None
    if len(data) not in (2, 3):
        raise FactoryError(
            f"--data: {spec}() must return train_loader, (train_loader, val_loader) or "
            f"(train_loader, val_loader, test_loader), got {len(data)} items"
        )
    train, val, *rest = data
    return train, val, (rest[0] if rest else None)


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
        step_fn: ``step_fn(model, batch) -> loss``, used instead of the criterion; or None.

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
    step_fn: Any = None

    @property
    def iterations_per_epoch(self) -> int | None:
        """``len(train_loader)``, or None for a loader without a length."""
        try:
            return len(self.train_loader)
        except TypeError:
            return None


def subject_from_task(task: Any, seed: int = 0) -> Subject:
    """A task's model (initialised by ``seed``), its optimizer and loss, and its loaders.

    Args:
        task: a :class:`cyclr.reproduce.tasks.Task` or a
            :class:`cyclr.reproduce.custom.FactoryTask`.
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
    model = task.build_model(seed)
    optimizer = task.optimizer.build(model.parameters(), lr=0.01)
    criterion = task.make_criterion()
    return Subject(
        task.name, model, optimizer, criterion, task.train_loader(seed), task.eval_loader("val"), step_fn=task.step_fn
    )


def subject_from_factories(
    model_spec: str,
    data_spec: str,
    momentum: float | None = None,
    weight_decay: float | None = None,
    *,
    optimizer: str = "sgd",
    loss: str | None = None,
    step_fn: str | None = None,
) -> Subject:
    """A subject from the user's factories: SGD on cross entropy unless told otherwise.

    Args:
        model_spec: ``"module:function"`` returning a ``torch.nn.Module``.
        data_spec: ``"module:function"`` returning the batches (see :func:`split_data`);
            a test part is ignored here.
        momentum: the optimizer's momentum (Adam's beta1), None for its default.
        weight_decay: the optimizer's weight decay, None for its default.
        optimizer: one of :data:`OPTIMIZERS`.
        loss: a name of :data:`LOSSES` or a ``module:function`` factory; None:
            cross entropy, or none at all with ``step_fn``.
        step_fn: ``"module:function"`` naming ``step_fn(model, batch) -> loss``.

    Returns:
        The :class:`Subject`, labelled by ``model_spec``.

    Raises:
        FactoryError: a path cannot be loaded, or a factory returns the wrong kind of thing.
        FactoryCallError: a factory raised.
        ValueError: a bad optimizer setting.

    Examples:
        >>> subject_from_factories("torch.nn:Identity", "builtins:tuple")
        Traceback (most recent call last):
        ...
        cyclr.reproduce.find.FactoryError: --data: builtins:tuple() must return train_loader, (train_loader, val_loader) or (train_loader, val_loader, test_loader), got 0 items
    """
    import torch

    choice = OptimizerChoice(optimizer, momentum, weight_decay)
    make_model = load_factory(model_spec, "--model")
    make_data = load_factory(data_spec, "--data")
    step = load_factory(step_fn, "--step-fn") if step_fn is not None else None
    criterion = load_criterion(loss) if loss is not None else None if step is not None else torch.nn.CrossEntropyLoss()
    model = call_factory(model_spec, make_model)
    if not isinstance(model, torch.nn.Module):
        raise FactoryError(f"--model: {model_spec}() must return a torch.nn.Module, got {type(model).__name__}")
    train_loader, val_loader, _ = split_data(call_factory(data_spec, make_data), data_spec)
    return Subject(model_spec, model, choice.build(model.parameters(), 0.01), criterion, train_loader, val_loader,
                   step_fn=step)


def run_range_test(
    subject: Subject,
    num_iter: int | None,
    start_lr: float | None,
    end_lr: float | None,
    step_mode: str | None,
    progress: bool,
    *,
    max_grad_norm: float | None = None,
    max_grad_value: float | None = None,
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
        max_grad_norm: clip the gradients' total 2-norm to this before each step, as the training loop does.
        max_grad_value: clip each gradient element to ``[-value, value]``; not with ``max_grad_norm``.

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

    finder = LRFinder(subject.model, subject.optimizer, subject.criterion, step_fn=subject.step_fn, progress=progress,
                      max_grad_norm=max_grad_norm, max_grad_value=max_grad_value)
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
