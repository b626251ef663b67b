"""Custom scale functions that survive a round trip through JSON or a state_dict.

A scale function multiplies the amplitude of a cycle. The built-in ones are the
policies' own (``mode=``); a custom one is saved by the name it was given with
:func:`register_scale_fn`:

- a registered function is saved as its name, e.g. ``"half_sine"``;
- an instance of a registered frozen dataclass (one with ``__call__``) is saved
  as ``{"class": name, "fields": {...}}``, its fields plain JSON data.

Loading resolves names in this registry only: it never imports a module or
calls anything that the running process did not register, so a saved file or
state_dict cannot run code. A function or class that is not registered (a
lambda, a closure, or simply one not decorated) cannot be saved: saving raises a
``TypeError`` that says how to register it, instead of silently dropping it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

ScaleFn = Callable[[float], float]

_REGISTRY: dict[str, Any] = {}

# Bounds on the plain data a saved dataclass may carry: enough for any real
# parameter set, small enough that checking it cannot exhaust the stack.
MAX_DEPTH = 16
MAX_ITEMS = 100_000


def register_scale_fn(name: str) -> Callable[[Any], Any]:
    """Decorator: make a scale function, or a dataclass of them, savable and loadable under ``name``.

    Decorating a function saves it as ``name``. Decorating a dataclass with
    ``__call__`` saves each instance as ``{"class": name, "fields": {...}}`` and
    rebuilds it from that class with those fields (which must be plain JSON
    data: numbers, strings, booleans, None, lists and string-keyed dicts).

    Loading finds only what is registered in the running process, so register
    before loading, e.g. by importing the module that holds the decorator.

    Args:
        name: a non-empty string without ``':'``.

    Returns:
        The decorator; it returns its argument unchanged.

    Raises:
        ValueError: a bad name, or the name is taken by another object.
        TypeError: the decorated object is not callable, or is a class but not a dataclass.

    Examples:
        >>> import cyclr
        >>> @cyclr.register_scale_fn("example.halve")
        ... def halve(cycle):
        ...     return 0.5 ** (cycle - 1)
        >>> cyclr.CyclicSchedule(0.1, 1.0, scale_fn=halve).to_dict()["scale_fn"]
        'example.halve'
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"name must be a non-empty string without ':', got name={name!r}")

    def decorate(fn: Any) -> Any:
        if not callable(fn):
            raise TypeError(f"scale_fn must be callable, got {fn!r}")
        if isinstance(fn, type) and not dataclasses.is_dataclass(fn):
            raise TypeError(f"a registered scale function class must be a dataclass, got {fn!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"a scale function is already registered as {name!r}: {existing!r}")
        _REGISTRY[name] = fn
        return fn

    return decorate


def registered_scale_fns() -> dict[str, Any]:
    """A copy of the registry.

    Returns:
        Each registered name, mapped to its function or class.

    Examples:
        >>> import cyclr
        >>> from cyclr.scale import registered_scale_fns
        >>> @cyclr.register_scale_fn("example.third")
        ... def third(cycle):
        ...     return 1 / 3
        >>> registered_scale_fns()["example.third"] is third
        True
    """
    return dict(_REGISTRY)


def scale_fn_to_ref(fn: ScaleFn) -> str | dict[str, Any]:
    """Return a JSON-able reference to ``fn``: its registered name, or its registered class and fields.

    Args:
        fn: a registered function, or an instance of a registered dataclass.

    Returns:
        The name, or ``{"class": name, "fields": {...}}`` for a dataclass instance.

    Raises:
        TypeError: ``fn`` is not registered (nor an instance of a registered
            dataclass), or that instance's fields are not plain JSON data.

    Examples:
        >>> import dataclasses
        >>> import cyclr
        >>> from cyclr.scale import scale_fn_to_ref
        >>> @cyclr.register_scale_fn("example.power")
        ... @dataclasses.dataclass(frozen=True)
        ... class Power:
        ...     exponent: float
        ...     def __call__(self, cycle):
        ...         return cycle ** -self.exponent
        >>> scale_fn_to_ref(Power(0.5))
        {'class': 'example.power', 'fields': {'exponent': 0.5}}
    """
    for name, registered in _REGISTRY.items():
        if registered is fn:
            return name
    cls = type(fn)
    for name, registered in _REGISTRY.items():
        if registered is cls and isinstance(registered, type):
            fields = {f.name: getattr(fn, f.name) for f in dataclasses.fields(cls) if f.init}
            try:
                check_plain_data(f"scale_fn fields of {name!r}", fields)
            except ValueError as err:
                raise TypeError(f"{err}; a saved scale function's fields must be plain JSON data") from None
            return {"class": name, "fields": fields}
    raise TypeError(
        f"scale_fn {fn!r} cannot be saved: it is not registered (a lambda, closure or plain function "
        "has no name that loading could trust). Decorate the function, or a frozen dataclass with "
        "__call__, with @cyclr.register_scale_fn('name')."
    )


def scale_fn_from_ref(ref: Any) -> ScaleFn:
    """Resolve a reference made by :func:`scale_fn_to_ref`, by registered name only.

    Nothing is imported and nothing unregistered is called.

    Args:
        ref: a registered name, or ``{"class": name, "fields": {...}}``.

    Returns:
        The registered function, or an instance of the registered class built from the fields.

    Raises:
        ValueError: the name is not registered, or the fields do not fit the registered class.
        TypeError: ``ref`` is neither a name nor a ``{"class", "fields"}`` dict.

    Examples:
        >>> import cyclr
        >>> from cyclr.scale import scale_fn_from_ref
        >>> @cyclr.register_scale_fn("example.quarter")
        ... def quarter(cycle):
        ...     return 0.25
        >>> scale_fn_from_ref("example.quarter") is quarter
        True
    """
    if isinstance(ref, str):
        return _lookup("scale_fn", ref)  # type: ignore[no-any-return]
    if not isinstance(ref, Mapping):
        raise TypeError(f"scale_fn must be a registered name or a {{'class', 'fields'}} dict, got {_short(ref)}")
    if set(ref) != {"class", "fields"}:
        keys = _short(sorted(map(str, ref)))
        raise ValueError(f"scale_fn must have exactly the keys 'class' and 'fields', got keys {keys}")
    name, fields = ref["class"], ref["fields"]
    if not isinstance(name, str):
        raise TypeError(f"scale_fn['class'] must be a registered name (a string), got {_short(name)}")
    cls = _lookup("scale_fn['class']", name)
    if not isinstance(cls, type):
        raise ValueError(f"scale_fn['class']={name!r} is a registered function, not a class: save it by name")
    if not isinstance(fields, Mapping):
        raise TypeError(f"scale_fn['fields'] must be a dict, got {_short(fields)}")
    check_plain_data("scale_fn['fields']", fields)
    allowed = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(
            f"scale_fn['fields'] has fields {_short(unknown)} that {name!r} does not take (it takes {sorted(allowed)})"
        )
    try:
        return cls(**fields)  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        raise
    except Exception as err:  # the registered class's own checks: reported as bad data
        raise ValueError(f"scale_fn {name!r} rejected fields {_short(dict(fields))}: {err!r}") from None


def _lookup(label: str, name: str) -> Any:
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise ValueError(
        f"{label} names an unknown scale function {_short(name)}: nothing is registered under that name in this "
        "process. Loading never imports code; decorate it with @cyclr.register_scale_fn('name') and "
        "import that module before loading."
    )


def check_plain_data(name: str, value: Any) -> None:
    """Raise ValueError/TypeError unless ``value`` is plain JSON data of bounded size and depth.

    Plain data: None, bool, int, float, str, and lists and str-keyed dicts of them.
    Checked with an explicit stack, so deep nesting is refused, never a RecursionError.

    Args:
        name: what to call ``value`` in error messages.
        value: the data to check.

    Raises:
        TypeError: a value that is not plain data, or a dict key that is not a string.
        ValueError: more than ``MAX_ITEMS`` values, or nesting deeper than ``MAX_DEPTH``.

    Examples:
        >>> from cyclr.scale import check_plain_data
        >>> check_plain_data("fields", {"rate": 0.5, "steps": [1, 2]})
        >>> check_plain_data("fields", {"fn": print})
        Traceback (most recent call last):
        ...
        TypeError: fields must be plain JSON data, got builtin_function_or_method <built-in function print>
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            raise ValueError(f"{name} holds more than {MAX_ITEMS} values")
        if item is None or isinstance(item, (bool, int, float, str)):
            continue
        if depth >= MAX_DEPTH and isinstance(item, (list, tuple, Mapping)):
            raise ValueError(f"{name} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, Mapping):
            for key, v in item.items():
                if not isinstance(key, str):
                    raise TypeError(f"{name} must have string keys, got key {_short(key)}")
                stack.append((v, depth + 1))
        else:
            raise TypeError(f"{name} must be plain JSON data, got {type(item).__name__} {_short(item)}")


def _short(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: error messages stay one line for hostile input."""
    try:
        text = repr(value)
    except Exception:  # a hostile object's own __repr__
        text = f"<{type(value).__name__}>"
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
