"""Keras 3 adapter (any backend): cyclical LR schedules, momentum cycling and the LR range test.

- :class:`CyclicLR` and :class:`OneCycleLR` take the options of the core
  :class:`~cyclr.CyclicSchedule` / :class:`~cyclr.OneCycleSchedule`.
- :class:`CyclicalLearningRate`, :class:`TriangularCyclicalLearningRate`,
  :class:`Triangular2CyclicalLearningRate` and
  :class:`ExponentialCyclicalLearningRate` take TensorFlow Addons' arguments:
  switch by changing the import. TF Addons computes the LR at the optimizer's
  ``iterations`` (0 for the first update) with the paper's formula, as the core
  does, so the values are the same.
- :class:`CyclicMomentum` cycles the optimizer's momentum or ``beta_1`` opposite to the LR.
- :class:`LRFinder` runs the LR range test on a compiled model.

The schedules are registered with Keras under the package ``"cyclr"``, so a
model compiled with one saves to ``.keras`` and loads with
``keras.models.load_model`` (no ``custom_objects``) once ``cyclr.keras`` is
imported. A custom ``scale_fn`` must use operators or ``keras.ops``, and be
registered with :func:`cyclr.register_scale_fn` for the model to be saved.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186
"""

from __future__ import annotations

from .finder import LRFinder
from .callbacks import CyclicMomentum
from .schedules import (
    CyclicalLearningRate,
    CyclicLR,
    ExponentialCyclicalLearningRate,
    OneCycleLR,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
)

__all__ = [
    "CyclicLR",
    "CyclicMomentum",
    "CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "LRFinder",
    "OneCycleLR",
    "Triangular2CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
]
