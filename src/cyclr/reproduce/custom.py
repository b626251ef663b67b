"""``cyclr reproduce --model ... --data ...``: the experiment on the user's own model and data.

:func:`task_from_factories` turns the factories into a :class:`FactoryTask`,
which the runner trains exactly as it trains a bundled
:class:`~cyclr.reproduce.tasks.Task`: the same plan, policies and report.
Differences from a bundled task:

- the batches are the user's loaders (or lists of batches), used as given;
  every run seeds torch's RNG and, when the loader has its own
  ``torch.Generator``, that generator, so runs with the same seed see the same
  batch order as far as the loader allows;
- the metric is accuracy when the model returns one score per class and the
  targets are class indices, else the validation loss (lower is better);
- with no test part, the validation batches stand in for the test split (the
  report says so).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from typing import Any

from .find import (
    FactoryError,
    OptimizerChoice,
    call_factory,
    load_criterion,
    load_factory,
    split_data,
)

__all__ = ["FactoryTask", "task_from_factories"]


@dataclasses.dataclass(frozen=True)
class FactoryTask:
    """A task built from the user's factories, with the bundled tasks' interface.

    Args:
        name: names the task in reports (the model factory's function name).
        description: one line for the report.
        model_spec: the ``module:function`` the model comes from, for messages.
        make_model: builds a fresh model.
        train: the training batches (a loader with ``len()``, or a list).
        val: the validation batches.
        test: the test batches (the validation batches when none were given).
        optimizer: the :class:`~cyclr.reproduce.find.OptimizerChoice`.
        criterion: ``criterion(outputs, targets) -> loss``, or None with ``step_fn``.
        step_fn: ``step_fn(model, batch) -> loss``, or None.
        metric: ``"accuracy"`` (higher is better) or ``"loss"`` (lower is better).
        epochs: training budget in epochs.
        epochs_per_step: CLR half-cycle in epochs.
        range_test_epochs: length of the range test's linear sweep.
        batch_size: samples in the first training batch, or None when unknown.
        command_args: the arguments that name the task in ``results["command"]``.

    Examples:
        >>> import torch
        >>> batches = [(torch.randn(8, 2), torch.randn(8, 1)) for _ in range(4)]
        >>> task = FactoryTask("line", "a line", "m:f", lambda: torch.nn.Linear(2, 1), batches, batches, batches,
        ...                    OptimizerChoice(), torch.nn.MSELoss(), None, "loss", 4, 1, 2, 8, "--model m:f")
        >>> task.iterations_per_epoch, task.evaluate(task.build_model(0), "val") > 0
        (4, True)
    """

    name: str
    description: str
    model_spec: str
    make_model: Callable[[], Any]
    train: Iterable[Any]
    val: Iterable[Any]
    test: Iterable[Any]
    optimizer: OptimizerChoice
    criterion: Any
    step_fn: Callable[[Any, Any], Any] | None
    metric: str
    epochs: int
    epochs_per_step: float
    range_test_epochs: int
    batch_size: int | None
    command_args: str

    @property
    def iterations_per_epoch(self) -> int:
        """Optimizer updates per pass over the training batches."""
        return len(self.train)  # type: ignore[arg-type]

    @property
    def split_sizes(self) -> dict[str, int | None]:
        """Samples in each split, where the loader says (``len(loader.dataset)``) or the batches are a list."""
        return {"train": _samples(self.train), "val": _samples(self.val), "test": _samples(self.test)}

    def make_criterion(self) -> Any:
        """The loss the user chose (the same object for every run)."""
        return self.criterion

    def build_model(self, seed: int) -> Any:
        """The model factory's model, with torch seeded by ``seed``; the global RNG is left as it was."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = call_factory(self.model_spec, self.make_model)
        if not isinstance(model, torch.nn.Module):
            raise FactoryError(f"--model: {self.model_spec}() must return a torch.nn.Module, got {type(model).__name__}")
        return model

    def train_loader(self, seed: int = 0) -> Iterable[Any]:
        """The training batches; a loader's own ``generator`` is reseeded with ``seed``."""
        import torch

        generator = getattr(self.train, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(seed)
        return self.train

    def eval_loader(self, split: str = "val") -> Iterable[Any]:
        """The ``"val"`` or ``"test"`` batches."""
        return self.val if split == "val" else self.test

    def evaluate(self, model: Any, split: str) -> float:
        """Accuracy or mean loss (per :attr:`metric`) of ``model`` on ``"val"`` or ``"test"``, in eval mode."""
        import torch

        from .training import batch_loss

        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        try:
            with torch.no_grad():
                for batch in self.eval_loader(split):
                    if self.metric == "accuracy":
                        inputs, targets = batch
                        total += float((model(inputs).argmax(dim=1) == targets).sum())
                        count += len(targets)
                    else:
                        n = _batch_size(batch) or 1
                        total += float(batch_loss(model, batch, self.criterion, self.step_fn)) * n
                        count += n
        finally:
            model.train(was_training)
        return total / count


def task_from_factories(
    model_spec: str,
    data_spec: str,
    *,
    optimizer: OptimizerChoice,
    loss: str | None,
    step_fn: str | None,
    epochs: int,
    epochs_per_step: float,
    range_test_epochs: int,
    command_args: str,
) -> FactoryTask:
    """Load the factories, call the data factory once, and choose the metric from a first validation batch.

    Args:
        model_spec: ``"module:function"`` returning a ``torch.nn.Module``.
        data_spec: ``"module:function"`` returning ``(train, val)`` or ``(train, val, test)``.
        optimizer: the optimizer to train with.
        loss: a loss name or ``module:function`` factory; None: cross entropy
            (or the ``step_fn``'s loss).
        step_fn: ``"module:function"`` naming ``step_fn(model, batch) -> loss``, or None.
        epochs: training budget in epochs.
        epochs_per_step: CLR half-cycle in epochs.
        range_test_epochs: length of the range test's linear sweep.
        command_args: how the command line named the task, for the report.

    Returns:
        The :class:`FactoryTask`.

    Raises:
        FactoryError: a bad path, a model that is not a module, no validation
            batches, or a training loader without ``len()``.
        FactoryCallError: a factory raised.

    Examples:
        >>> task_from_factories("torch.nn:Identity", "builtins:list", optimizer=OptimizerChoice(), loss=None,
        ...                     step_fn=None, epochs=4, epochs_per_step=1, range_test_epochs=2, command_args="")
        Traceback (most recent call last):
        ...
        cyclr.reproduce.find.FactoryError: --data: builtins:list() must return train_loader, (train_loader, val_loader) or (train_loader, val_loader, test_loader), got 0 items
    """
    import torch

    make_model = load_factory(model_spec, "--model")
    make_data = load_factory(data_spec, "--data")
    step = load_factory(step_fn, "--step-fn") if step_fn is not None else None
    criterion = load_criterion(loss) if loss is not None else None if step is not None else torch.nn.CrossEntropyLoss()
    train, val, test = split_data(call_factory(data_spec, make_data), data_spec)
    if val is None:
        raise FactoryError(
            f"--data: {data_spec}() must return (train_loader, val_loader) or (train_loader, val_loader, test_loader) "
            "for reproduce, got train batches alone"
        )
    try:
        len(train)
    except TypeError:
        raise FactoryError(f"--data: the train loader of {data_spec}() must have len() for reproduce") from None
    first = next(iter(val), None)
    if first is None:
        raise FactoryError(f"--data: the validation loader of {data_spec}() yields no batches")
    name = model_spec.partition(":")[2]
    described = f"{model_spec} on {data_spec}" + ("" if test is not None else " (no test split: validation reported)")
    task = FactoryTask(
        name=name,
        description=described,
        model_spec=model_spec,
        make_model=make_model,
        train=train,
        val=val,
        test=test if test is not None else val,
        optimizer=optimizer,
        criterion=criterion,
        step_fn=step,
        metric="loss",
        epochs=epochs,
        epochs_per_step=epochs_per_step,
        range_test_epochs=range_test_epochs,
        batch_size=_batch_size(next(iter(train), None)),
        command_args=command_args,
    )
    if step is None and _classifies(task.build_model(0), first):
        task = dataclasses.replace(task, metric="accuracy")
    return task


def _classifies(model: Any, batch: Any) -> bool:
    """Whether ``model`` scores classes on ``batch`` and its targets are class indices."""
    import torch

    from ..torch.finder import _is_classification

    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return False
    inputs, targets = batch
    with torch.no_grad():
        return bool(_is_classification(model.eval()(inputs), targets))


def _batch_size(batch: Any) -> int | None:
    """Samples in ``batch``: the length of its targets (or of the first tensor in it)."""
    import torch

    if isinstance(batch, (tuple, list)) and batch:
        batch = batch[-1]
    elif isinstance(batch, dict) and batch:
        batch = next(itertools.chain((v for v in batch.values() if isinstance(v, torch.Tensor)), [None]))
    return len(batch) if isinstance(batch, torch.Tensor) and batch.ndim else None


def _samples(loader: Any) -> int | None:
    dataset = getattr(loader, "dataset", None)
    if dataset is not None:
        try:
            return len(dataset)
        except TypeError:
            return None
    if isinstance(loader, (list, tuple)):
        sizes = [_batch_size(batch) for batch in loader]
        return None if None in sizes else sum(sizes)  # type: ignore[arg-type]
    return None
