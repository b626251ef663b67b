"""Bundled demo tasks: real data that installs with the ``demo`` extra, a model and a recipe.

Adding a task is one small module that defines ``load() -> Task``, plus one
line in ``_BUILTIN`` (or a call to :func:`register_task` from user code).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ._base import Split, Task, TensorBatches

__all__ = ["Split", "Task", "TensorBatches", "available_tasks", "load_task", "register_task"]

# name -> module defining load(); imported only when the task is used.
_BUILTIN: dict[str, str] = {"digits": ".digits", "mnist": ".mnist"}
_REGISTERED: dict[str, Callable[[], Task]] = {}
_CACHE: dict[str, Task] = {}


def available_tasks() -> list[str]:
    """Names accepted by :func:`load_task`, built-in first.

    Returns:
        The names: ``digits`` and ``mnist``, then any registered ones.

    Examples:
        >>> available_tasks()[:2]
        ['digits', 'mnist']
    """
    return [*_BUILTIN, *(name for name in _REGISTERED if name not in _BUILTIN)]


def register_task(name: str, loader: Callable[[], Task]) -> None:
    """Make ``load_task(name)`` call ``loader``; a later registration replaces an earlier one.

    Args:
        name: the task's name, as given to ``--task``.
        loader: builds the :class:`Task`, called once on first use.

    Raises:
        TypeError: ``name`` is not a non-empty string or ``loader`` is not callable.

    Examples:
        >>> register_task("", lambda: None)
        Traceback (most recent call last):
        ...
        TypeError: name must be a non-empty string, got ''
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {loader!r}")
    _REGISTERED[name] = loader
    _CACHE.pop(name, None)


def load_task(name: str) -> Task:
    """The task called ``name``; loaded once per process, then served from memory.

    Args:
        name: one of :func:`available_tasks`.

    Returns:
        The :class:`Task`.

    Raises:
        ValueError: no task has that name.
        TypeError: a registered loader returned something other than a :class:`Task`.

    Examples:
        >>> task = load_task("digits")
        >>> task.name, task.iterations_per_epoch, len(task.test)
        ('digits', 63, 500)
    """
    if name not in _CACHE:
        if name in _REGISTERED:
            task = _REGISTERED[name]()
        elif name in _BUILTIN:
            task = importlib.import_module(_BUILTIN[name], __name__).load()
        else:
            raise ValueError(f"task must be one of {', '.join(map(repr, available_tasks()))}; got task={name!r}")
        if not isinstance(task, Task):
            raise TypeError(f"the loader of task {name!r} must return a cyclr.tasks.Task, got {type(task).__name__}")
        _CACHE[name] = task
    return _CACHE[name]
