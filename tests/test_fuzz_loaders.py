"""Fuzzing every loader: only ValueError/TypeError escape, nothing hangs, nothing is imported.

Inputs are valid dicts from ``to_dict()`` / ``state_dict()`` / ``get_config()``
with keys dropped, values swapped for other types or random JSON, and hostile
scale function references inserted, as well as fully random JSON, invalid JSON
text and raw bytes. Each example compares ``sys.modules`` before and after: a
loader may import ``cyclr`` modules, nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import keras
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cyclr
import cyclr.keras as ck
import cyclr.torch as ct
from cyclr import CyclicSchedule, OneCycleSchedule, RangeSweep
from cyclr.rangetest import RangeTestRecorder, RangeTestResult
from cyclr.suggest import NoSuggestionError

FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
CLEAN = (ValueError, TypeError)

# Distinct inputs each loader was given, and how many it rejected cleanly.
OUTCOMES: dict[str, dict[str, str]] = {}


@cyclr.register_scale_fn("test_fuzz.decay")
def decay(x: Any) -> Any:
    return 1.0 / (1.0 + 0.5 * (x - 1.0))


@cyclr.register_scale_fn("test_fuzz.power")
@dataclasses.dataclass(frozen=True)
class Power:
    power: float

    def __call__(self, x: Any) -> Any:
        return x**-self.power


HOSTILE = [
    {"class": "subprocess:Popen", "fields": {"args": "touch cyclr-fuzz-marker", "shell": True}},
    {"class": "os:system", "fields": {"command": "touch cyclr-fuzz-marker"}},
    "os:getpid",
    "os:system",
    "builtins:eval",
    "cyclr_fuzz_absent_module:f",
    "xml.dom.minidom:parseString",
    {"class": "test_fuzz.decay", "fields": {}},
    {"class": "test_fuzz.power", "fields": {"power": "x"}},
    {"class": "test_fuzz.power", "fields": {"power": 0.5, "extra": 1}},
    {"class": "test_fuzz.power", "fields": {"power": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}},
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(HOSTILE).map(copy.deepcopy)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)


def _slots(data: Any, depth: int = 0) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) pair in nested dicts and lists, a few levels deep."""
    if depth > 4:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            yield data, key
            yield from _slots(value, depth + 1)
    elif isinstance(data, list):
        for i, value in enumerate(data[:6]):
            yield data, i
            yield from _slots(value, depth + 1)


def _other_type(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return 1.5


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    """``valid`` with one to four of: a key dropped, a value swapped for another type, random JSON,
    a hostile reference, a boundary number, or an extra key."""
    data = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 4))):
        slots = list(_slots(data))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["drop", "type", "json", "hostile", "number", "add"]))
        if op == "drop":
            container.pop(key) if isinstance(container, dict) else container.pop(key)
        elif op == "type":
            container[key] = _other_type(container[key])
        elif op == "json":
            container[key] = draw(json_values)
        elif op == "hostile":
            container[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        elif op == "number":
            container[key] = draw(
                st.sampled_from([0, -1, -0.0, 1e-320, 1e308, math.inf, -math.inf, math.nan, 2**63, 10**30, True])
            )
        elif isinstance(container, dict):
            container[draw(st.sampled_from(["scale_fn", "scale_fn_ref", "coarse", "type", "extra"]))] = draw(
                json_values
            )
    return data


def run_clean(loader: str, data: Any, call: Callable[[], Any], allowed: tuple[type[BaseException], ...] = CLEAN) -> Any:
    """Run ``call``; only ``allowed`` errors may escape and no module outside cyclr may be imported."""
    before = set(sys.modules)
    key = _key(data)
    try:
        result = call()
        OUTCOMES.setdefault(loader, {})[key] = "loaded"
        return result
    except allowed:
        OUTCOMES.setdefault(loader, {})[key] = "rejected"
        return None
    finally:
        imported = {m for m in set(sys.modules) - before if m != "cyclr" and not m.startswith("cyclr.")}
        assert not imported, f"{loader} imported {sorted(imported)}"
        assert not Path("cyclr-fuzz-marker").exists()


def _key(data: Any) -> str:
    try:
        return repr(data)
    except ValueError:  # an int with more digits than repr allows
        return f"<{type(data).__name__} {id(data)}>"


# --- valid starting points ---------------------------------------------------------


SCHEDULES = [
    CyclicSchedule(0.001, 0.006, 7, 3, mode="exp_range", gamma=0.99, shape="hann"),
    CyclicSchedule(0.001, 0.006, 5, scale_fn=decay, scale_mode="iterations"),
    CyclicSchedule(0.001, 0.006, 5, scale_fn=Power(0.5)),
    OneCycleSchedule(0.1, 50, pct_start=0.2, three_phase=True),
    RangeSweep(1e-5, 1.0, 20, "exp"),
]


def _result_dict() -> dict[str, Any]:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 12), settings={"group_ratios": [1.0, 0.1], "stage": "main"})
    for i, loss in enumerate([2.0, 1.8, 1.2, 0.9, 0.8, 1.5, 9.0, 30.0]):
        if rec.record_loss(loss):
            break
        if i % 2:
            rec.record_metrics({"val_loss": loss, "val_accuracy": 1 / (1 + loss)})
    result = rec.result()
    coarse = RangeTestRecorder(RangeSweep(1e-7, 10.0, 4, "exp"))
    for loss in (1.0, 0.9, 0.8, 0.7):
        coarse.record_loss(loss)
    result.coarse = coarse.result()
    return result.to_dict()


RESULT = _result_dict()


def _cyclic_lr(scale_fn: Any = decay) -> ct.CyclicLR:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    sched = ct.CyclicLR(opt, 0.001, 0.006, step_size_up=3, scale_fn=scale_fn)
    sched.step()
    return sched


def _one_cycle_lr() -> ct.OneCycleLR:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    sched = ct.OneCycleLR(opt, 0.1, total_steps=20)
    sched.step()
    return sched


KERAS = [
    ck.CyclicLR(1e-3, 6e-3, step_size_up=4, scale_fn=Power(0.25), name="clr"),
    ck.OneCycleLR(0.1, 50, pct_start=0.2),
    ck.CyclicalLearningRate(1e-3, 1e-2, 3, scale_fn=decay),
    ck.TriangularCyclicalLearningRate(1e-3, 1e-2, 3),
    ck.Triangular2CyclicalLearningRate(1e-3, 1e-2, 3, scale_mode="iterations"),
    ck.ExponentialCyclicalLearningRate(1e-3, 1e-2, 3, scale_mode="cycle", gamma=0.5),
]
for _schedule in KERAS:  # Keras imports some modules on first use; do that before counting imports
    type(_schedule).from_config(_schedule.get_config())


def _use(result: RangeTestResult) -> None:
    """Read a loaded result as a user would: nothing but a clean error may come out."""
    _ = (result.stop_lr, result.sweep, result.log_scale, repr(result), result.to_dict(), result == result)
    if result.coarse is not None:
        _ = (result.coarse.stop_lr, result.coarse.sweep)
    try:
        result.suggest()
    except NoSuggestionError:
        pass


# --- the fuzz tests -------------------------------------------------------------------


@FUZZ
@given(st.data())
def test_schedule_loaders(data: st.DataObject) -> None:
    schedule = data.draw(st.sampled_from(SCHEDULES))
    raw = data.draw(mutated(schedule.to_dict()) | json_values)
    run_clean("schedule_from_dict", raw, lambda: cyclr.schedule_from_dict(raw))
    for cls in (CyclicSchedule, OneCycleSchedule, RangeSweep):
        run_clean(f"{cls.__name__}.from_dict", raw, lambda: cls.from_dict(raw))


@FUZZ
@given(mutated(RESULT) | json_values)
def test_range_test_result_from_dict(raw: Any) -> None:
    result = run_clean("RangeTestResult.from_dict", raw, lambda: RangeTestResult.from_dict(raw))
    if result is not None:
        run_clean("RangeTestResult use", raw, lambda: _use(result))


def _texts() -> st.SearchStrategy[bytes]:
    valid = json.dumps(RESULT)
    return st.one_of(
        mutated(RESULT).map(lambda d: json.dumps(d).encode()),
        json_values.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
        st.integers(0, len(valid)).map(lambda n: valid[:n].encode()),  # truncated
        st.integers(1, 50_000).map(lambda n: ("[" * n + "]" * n).encode()),
        st.integers(1, 50_000).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
        st.integers(1, 3000).map(lambda n: valid.replace('"lrs": [', '"lrs": [' + "9" * n + ", ").encode()),
        st.sampled_from([b"NaN", b"Infinity", b"1e999", b"-1e999", b"\xef\xbb\xbf{}", b"\x00", b"{}"]),
    )


@FUZZ
@given(_texts())
def test_range_test_result_load(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "result.json"
    path.write_bytes(raw)
    result = run_clean("RangeTestResult.load", raw, lambda: RangeTestResult.load(path))
    if result is not None:
        run_clean("RangeTestResult use", raw, lambda: _use(result))


CYCLIC_STATES = [_cyclic_lr().state_dict(), _cyclic_lr(Power(0.5)).state_dict(), _cyclic_lr(None).state_dict()]
ONE_CYCLE_STATE = _one_cycle_lr().state_dict()


@FUZZ
@given(st.sampled_from(CYCLIC_STATES).flatmap(mutated) | json_values)
def test_cyclic_lr_load_state_dict(raw: Any) -> None:
    sched = _cyclic_lr()
    loaded = run_clean("CyclicLR.load_state_dict", raw, lambda: sched.load_state_dict(raw))
    run_clean("CyclicLR step after load", raw, sched.step)
    del loaded


@FUZZ
@given(mutated(ONE_CYCLE_STATE) | json_values)
def test_one_cycle_lr_load_state_dict(raw: Any) -> None:
    sched = _one_cycle_lr()
    run_clean("OneCycleLR.load_state_dict", raw, lambda: sched.load_state_dict(raw))
    run_clean("OneCycleLR step after load", raw, sched.step)


@FUZZ
@given(st.data())
def test_keras_from_config(data: st.DataObject) -> None:
    schedule = data.draw(st.sampled_from(KERAS))
    cls = type(schedule)
    raw = data.draw(mutated(schedule.get_config()) | json_values)
    loaded = run_clean(f"keras {cls.__name__}.from_config", raw, lambda: cls.from_config(raw))
    if loaded is not None:
        run_clean(f"keras {cls.__name__} call", raw, lambda: keras.ops.convert_to_numpy(loaded(3)))


def test_fuzz_covers_every_loader() -> None:
    """The strategies above reach every loader: OUTCOMES is filled as the fuzz tests run.

    A fuzz test that ran in another test process (pytest-xdist), or not at all, runs here.
    """
    fills = {"schedule_from_dict": test_schedule_loaders, "RangeTestResult.from_dict": test_range_test_result_from_dict,
             "CyclicLR.load_state_dict": test_cyclic_lr_load_state_dict}
    for loader, fuzz in fills.items():
        if loader not in OUTCOMES:
            fuzz()
    assert set(fills) <= set(OUTCOMES)
