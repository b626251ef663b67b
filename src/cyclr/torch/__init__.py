"""PyTorch adapter: drop-in schedulers, the range test runner and torch.distributed helpers."""

from . import distributed
from .finder import LRFinder
from .schedulers import CyclicLR, OneCycleLR

__all__ = ["CyclicLR", "LRFinder", "OneCycleLR", "distributed"]
