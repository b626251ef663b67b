"""The shape every bundled task shares: tensors, a model factory, and a training recipe."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ... import _validate as check


class TensorBatches:
    """Mini-batches of in-memory tensors, reshuffled on every pass with a seeded generator.

    A lighter stand-in for ``DataLoader(TensorDataset(x, y), shuffle=...)``: the
    data already sits in memory, so indexing whole batches at once avoids a
    per-sample collate. Iterating twice gives two different (but reproducible)
    orders, as a shuffling DataLoader does across epochs.

    Args:
        x: the inputs, one row per sample.
        y: the labels.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: reshuffle on every pass; otherwise the order is fixed.
        seed: seeds the shuffling.

    Raises:
        ValueError: ``x`` and ``y`` differ in length, or ``batch_size`` is not positive.

    Examples:
        >>> import torch
        >>> batches = TensorBatches(torch.arange(10.0), torch.arange(10), batch_size=4, shuffle=False)
        >>> len(batches), [len(targets) for _, targets in batches]
        (3, [4, 4, 2])
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True, seed: int = 0):
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got len(x)={len(x)}, len(y)={len(y)}")
        self.x, self.y = x, y
        self.batch_size = check.positive_int("batch_size", batch_size)
        self.shuffle = shuffle
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.x[index], self.y[index]


@dataclasses.dataclass(frozen=True)
class Split:
    """Inputs and integer labels of one split.

    Args:
        x: the inputs, one row per sample.
        y: the integer labels.

    Examples:
        >>> import torch
        >>> len(Split(torch.zeros(3, 2), torch.tensor([0, 1, 0])))
        3
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclasses.dataclass(frozen=True)
class Task:
    """A small real classification problem with a model and a recipe that suit it.

    Args:
        name: registry name, e.g. ``"digits"``.
        description: one line for ``--help`` and reports.
        train: the training split.
        val: the validation split (the range test and the fixed-LR choice read it).
        test: the test split (reported, never used for a choice).
        make_model: builds a freshly initialised model (seed torch before calling).
        batch_size: mini-batch size for training.
        epochs: training budget of ``cyclr reproduce``, in epochs.
        epochs_per_step: CLR half-cycle length in epochs (the paper's 2-10).
        range_test_epochs: length of the range test's linear sweep (8-16 epochs on small sets).
        momentum: SGD momentum shared by every policy.
        weight_decay: SGD weight decay shared by every policy.

    Examples:
        >>> import torch
        >>> inputs = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        >>> split = Split(inputs, (inputs[:, 0] > 0).long())
        >>> task = Task("toy", "two halves of a plane", split, split, split, lambda: torch.nn.Linear(2, 2),
        ...             batch_size=16, epochs=4, epochs_per_step=1, range_test_epochs=2)
        >>> task.iterations_per_epoch, task.num_classes
        (4, 2)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    name: str
    description: str
    train: Split
    val: Split
    test: Split
    make_model: Callable[[], nn.Module]
    batch_size: int
    epochs: int
    epochs_per_step: int
    range_test_epochs: int
    momentum: float = 0.9
    weight_decay: float = 5e-4
    # What reproduce evaluates (higher is better), and no step_fn: batches are (inputs, labels).
    metric: ClassVar[str] = "accuracy"
    step_fn: ClassVar[None] = None

    @property
    def optimizer(self) -> Any:
        """SGD with the task's momentum and weight decay, as a :class:`cyclr.reproduce.find.OptimizerChoice`."""
        from ..find import OptimizerChoice

        return OptimizerChoice("sgd", self.momentum, self.weight_decay)

    @property
    def split_sizes(self) -> dict[str, int]:
        """Samples in each split."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def make_criterion(self) -> nn.Module:
        """Cross entropy, the loss every bundled task trains on."""
        return nn.CrossEntropyLoss()

    def evaluate(self, model: nn.Module, split: str) -> float:
        """Accuracy of ``model`` on ``"val"`` or ``"test"``."""
        from ..training import accuracy

        return accuracy(model, {"val": self.val, "test": self.test}[check.choice("split", split, ("val", "test"))])

    @property
    def iterations_per_epoch(self) -> int:
        """Optimizer updates per pass over the training split."""
        return math.ceil(len(self.train) / self.batch_size)

    @property
    def num_classes(self) -> int:
        """One more than the largest training label."""
        return int(self.train.y.max()) + 1

    def train_loader(self, seed: int = 0) -> TensorBatches:
        """Shuffled training batches; the order depends only on ``seed``."""
        return TensorBatches(self.train.x, self.train.y, self.batch_size, shuffle=True, seed=seed)

    def eval_loader(self, split: str = "val") -> TensorBatches:
        """Unshuffled batches of ``"val"`` or ``"test"``."""
        data = {"val": self.val, "test": self.test}[check.choice("split", split, ("val", "test"))]
        return TensorBatches(data.x, data.y, max(self.batch_size, 256), shuffle=False)

    def build_model(self, seed: int) -> nn.Module:
        """``make_model()`` with its initial weights fixed by ``seed``; the global RNG is left as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.make_model()


def stratified_split(
    labels: np.ndarray, sizes: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of (train, val, test): val and test get ``sizes`` rows, in class proportions; train the rest.

    Args:
        labels: the class of every sample.
        sizes: ``(val_size, test_size)``.
        seed: seeds the split.

    Returns:
        The index arrays of train, val and test.

    Examples:
        >>> train, val, test = stratified_split(np.repeat([0, 1], 10), (4, 6), seed=0)
        >>> len(train), len(val), len(test), int(np.bincount(np.repeat([0, 1], 10)[test])[0])
        (10, 4, 6, 3)
    """
    from sklearn.model_selection import train_test_split

    val_size, test_size = sizes
    index = np.arange(len(labels))
    rest, test = train_test_split(index, test_size=test_size, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=val_size, stratify=labels[rest], random_state=seed + 1)
    return train, val, test


def make_splits(
    x: np.ndarray, y: np.ndarray, sizes: tuple[int, int], seed: int, shape: tuple[int, ...]
) -> tuple[Split, Split, Split]:
    """Seeded stratified train/val/test splits as float32 inputs of ``shape`` per sample and int64 labels.

    Args:
        x: the inputs, one row per sample.
        y: the integer labels.
        sizes: ``(val_size, test_size)``.
        seed: seeds the split.
        shape: the shape of one input.

    Returns:
        The train, val and test :class:`Split`.

    Examples:
        >>> train, val, test = make_splits(np.zeros((20, 4)), np.repeat([0, 1], 10), (4, 6), 0, shape=(2, 2))
        >>> tuple(train.x.shape), len(val), len(test)
        ((10, 2, 2), 4, 6)
    """
    parts = stratified_split(y, sizes, seed)
    return tuple(  # type: ignore[return-value]
        Split(
            torch.as_tensor(x[index], dtype=torch.float32).reshape(len(index), *shape),
            torch.as_tensor(y[index], dtype=torch.int64),
        )
        for index in parts
    )
