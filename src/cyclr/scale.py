"""Custom scale functions that survive a round trip through JSON or a state_dict.

A scale function multiplies the amplitude of a cycle. The built-in ones are the
policies' own (``mode=``); a custom one is saved by *reference*:

- a name given with :func:`register_scale_fn`;
- a module-level function, saved as ``"package.module:function"``;
- an instance of a dataclass defined at module level, saved as the class
  reference plus its fields.

A lambda or closure has no reference that can be resolved later, so saving one
raises a ``TypeError`` that says what to do instead of silently dropping it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

ScaleFn = Callable[[float], float]

_REGISTRY: dict[str, ScaleFn] = {}


def register_scale_fn(name: str) -> Callable[[ScaleFn], ScaleFn]:
    """Decorator: make ``fn`` serialisable under ``name`` (e.g. ``"half_sine"``)."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"name must be a non-empty string without ':', got name={name!r}")

    def decorate(fn: ScaleFn) -> ScaleFn:
        if not callable(fn):
            raise TypeError(f"scale_fn must be callable, got {fn!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"a scale function is already registered as {name!r}: {existing!r}")
        _REGISTRY[name] = fn
        return fn

    return decorate


def scale_fn_to_ref(fn: ScaleFn) -> str | dict[str, Any]:
    """Return a JSON-able reference to ``fn``; TypeError if it has none."""
    for name, registered in _REGISTRY.items():
        if registered is fn:
            return name
    if dataclasses.is_dataclass(fn) and not isinstance(fn, type):
        cls = type(fn)
        path = _import_path(cls)
        if path is not None:
            return {"class": path, "fields": dataclasses.asdict(fn)}
    path = _import_path(fn)
    if path is not None:
        return path
    raise TypeError(
        f"scale_fn {fn!r} cannot be saved: it has no importable name (a lambda, closure or "
        "local function). Define it at module level, decorate it with "
        "@cyclr.register_scale_fn('name'), or use a frozen dataclass with __call__."
    )


def scale_fn_from_ref(ref: str | dict[str, Any]) -> ScaleFn:
    """Resolve a reference made by :func:`scale_fn_to_ref`."""
    if isinstance(ref, dict):
        cls = _import(ref["class"])
        return cls(**ref["fields"])
    if ref in _REGISTRY:
        return _REGISTRY[ref]
    if ":" not in ref:
        raise ValueError(
            f"unknown scale function {ref!r}: not registered in this process "
            "(import the module that registers it before loading)"
        )
    return _import(ref)


def _import_path(obj: Any) -> str | None:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    try:
        found = _import(f"{module}:{qualname}")
    except (ImportError, AttributeError):
        return None
    return f"{module}:{qualname}" if found is obj else None


def _import(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
