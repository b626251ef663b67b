"""``digits``: scikit-learn's 1,797 real 8x8 handwritten digits and a small MLP."""

from __future__ import annotations

import numpy as np
from torch import nn

from ._base import Task, make_splits

SPLIT_SEED = 0
VAL_SIZE, TEST_SIZE = 300, 500


def make_model() -> nn.Module:
    """64 pixels -> 64 hidden ReLU units -> 10 classes.

    Returns:
        A freshly initialised ``nn.Sequential``.

    Examples:
        >>> import torch
        >>> tuple(make_model()(torch.zeros(5, 64)).shape)
        (5, 10)
    """
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def load() -> Task:
    """The digits task; the data ships inside scikit-learn, so nothing is downloaded.

    Returns:
        The :class:`~cyclr.reproduce.tasks.Task`: 997 train, 300 val and 500 test images.

    Examples:
        >>> task = load()
        >>> len(task.train), len(task.val), len(task.test), task.batch_size
        (997, 300, 500, 16)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float32) / 16.0  # pixel values are 0..16
    y = np.asarray(bunch.target, dtype=np.int64)
    train, val, test = make_splits(x, y, (VAL_SIZE, TEST_SIZE), SPLIT_SEED, shape=(64,))
    return Task(
        name="digits",
        description="scikit-learn's 1,797 real 8x8 digits (997 train / 300 val / 500 test), MLP 64-64-10",
        train=train,
        val=val,
        test=test,
        make_model=make_model,
        # Small batches: their gradient noise is what a constant LR cannot shed and a cycle's low end can.
        batch_size=16,
        epochs=32,
        epochs_per_step=4,
        range_test_epochs=12,
    )
