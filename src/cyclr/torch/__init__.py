"""PyTorch adapter: drop-in schedulers (and the range test runner)."""

from .schedulers import CyclicLR, OneCycleLR

__all__ = ["CyclicLR", "OneCycleLR"]
