"""A pytest plugin that makes the deep learning frameworks unimportable, as if not installed.

Loaded with ``python -m pytest -p tests._block_frameworks ...``, it installs,
before any test module is imported, a ``sys.meta_path`` finder that raises
``ModuleNotFoundError`` for the frameworks and plotting libraries, so the core's
tests show that they need only numpy.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

BLOCKED = ("torch", "keras", "jax", "jaxlib", "optax", "tensorflow", "matplotlib")


class FrameworkBlocker(importlib.abc.MetaPathFinder):
    """Refuses to find the top-level packages named in ``BLOCKED`` and their submodules."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked: the core must run without it)")
        return None


def install() -> None:
    """Block the frameworks in this process; fails if one was imported already."""
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)
    if loaded:
        raise RuntimeError(f"too late to block the frameworks: already imported {loaded}")
    if not any(isinstance(finder, FrameworkBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, FrameworkBlocker())


def pytest_configure(config: Any) -> None:
    """Block the frameworks when pytest loads this module as a plugin (``-p``), not when it imports it for doctests."""
    install()


def pytest_report_header() -> str:
    """Say in the run's header that the frameworks are blocked."""
    return "frameworks blocked: " + ", ".join(BLOCKED)
