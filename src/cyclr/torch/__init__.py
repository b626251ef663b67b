"""PyTorch adapter: drop-in schedulers (and the range test runner)."""

from .finder import LRFinder
from .schedulers import CyclicLR, OneCycleLR

__all__ = ["CyclicLR", "LRFinder", "OneCycleLR"]
