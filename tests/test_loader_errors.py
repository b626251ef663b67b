"""Loaders reject malformed data with a one-line ValueError/TypeError naming the field."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

import cyclr.torch as ct
from cyclr import RangeSweep
from cyclr.rangetest import RangeTestRecorder, RangeTestResult


def recorded(coarse: bool = False) -> dict[str, Any]:
    rec = RangeTestRecorder(RangeSweep(0.0, 1.0, 8), settings={"group_ratios": [1.0, 0.5]})
    for loss in (2.0, 1.5, 1.0):
        rec.record_loss(loss)
        rec.record_metrics({"val_loss": math.nan})  # a diverged validation loss is a real reading
    result = rec.result("interrupted")
    if coarse:
        result.coarse = RangeTestRecorder(RangeSweep(1e-7, 10.0, 4, "exp")).result()
    return result.to_dict()


def test_a_recorded_result_with_a_coarse_sweep_loads() -> None:
    data = recorded(coarse=True)
    back = RangeTestResult.from_dict(json.loads(json.dumps(data)))
    assert back.to_dict()["lrs"] == data["lrs"] and back.coarse is not None and back.stop_step == 3


def changed(path: tuple[Any, ...], value: Any, coarse: bool = False) -> dict[str, Any]:
    data = copy.deepcopy(recorded(coarse))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()

BAD_RESULTS = [
    (("lrs",), DROP, ValueError, r"missing the fields \['lrs'\]"),
    (("stop_reason",), DROP, ValueError, "missing the fields"),
    (("version",), 2, ValueError, "unsupported range test format version 2"),
    (("version",), True, ValueError, "unsupported range test format version True"),
    (("surprise",), 1, ValueError, r"unknown fields \['surprise'\]"),
    (("lrs",), "0.1", TypeError, r"data\['lrs'\] must be a list of numbers, got str"),
    (("lrs",), None, TypeError, r"data\['lrs'\] must be a list"),
    (("lrs",), [0.0, 0.5, 0.25], ValueError, r"data\['lrs'\] must not decrease, got 0.5 then data\['lrs'\]\[2\]=0.25"),
    (("lrs",), [0.0, math.nan, 0.3], ValueError, r"data\['lrs'\] must be finite, got data\['lrs'\]\[1\]=nan"),
    (("lrs",), [-0.1, 0.0, 0.1], ValueError, r"data\['lrs'\] must be >= 0, got data\['lrs'\]\[0\]=-0.1"),
    (("lrs",), [0.0, True, 2.0], TypeError, r"data\['lrs'\] must hold numbers, got data\['lrs'\]\[1\]=True"),
    (("lrs",), [0.0, 0.1, 10**400], ValueError, "too large for a float"),
    (("lrs",), [0.0, 0.1], ValueError, r"data\['losses'\] must have one value per lr \(2\), got 3"),
    (("losses",), [1.0, math.inf, 1.0], ValueError, r"data\['losses'\] must be finite"),
    (("smoothed_losses", 0), "1.0", TypeError, r"data\['smoothed_losses'\] must hold numbers"),
    (("metric_steps",), [0, 1.0, 2], TypeError, r"data\['metric_steps'\] must hold integers, got .*\[1\]=1.0"),
    (("metric_steps",), [0, 2, 1], ValueError, r"metric_steps'\] must be increasing steps in 0..2"),
    (("metric_steps",), [0, 1, 5], ValueError, "must be increasing steps in 0..2"),
    (("metrics",), [], TypeError, r"data\['metrics'\] must be a dict"),
    (("metrics", "val_loss"), [1.0], ValueError, r"data\['metrics'\]\['val_loss'\] must have one value per metric"),
    (("metrics", "val_loss"), {"a": 1}, TypeError, r"data\['metrics'\]\['val_loss'\] must be a list"),
    (("stop_reason",), "exploded", ValueError, r"data\['stop_reason'\] must be one of"),
    (("stop_reason",), ["finished"], TypeError, r"data\['stop_reason'\] must be a string"),
    (("stop_step",), 2.0, TypeError, r"data\['stop_step'\] must be an integer or None, got 2.0"),
    (("stop_step",), -1, ValueError, r"data\['stop_step'\] must be in 0..\d+, got data\['stop_step'\]=-1"),
    (("stop_step",), True, TypeError, r"data\['stop_step'\] must be an integer"),
    (("settings",), [], TypeError, r"data\['settings'\] must be a dict, got list"),
    (("settings", "sweep"), None, TypeError, r"data\['settings'\]\['sweep'\]: data must be a dict, got NoneType"),
    (("settings", "sweep", "num_iter"), 8.5, TypeError, r"\['sweep'\]: num_iter must be an integer"),
    (("settings", "sweep", "num_iter"), DROP, ValueError, r"missing the fields \['num_iter'\]"),
    (("settings", "group_ratios"), [], ValueError, r"group_ratios'\] must not be empty"),
    (("settings", "group_ratios"), [1.0, -2.0], ValueError, r"group_ratios'\] must be > 0"),
    (("settings", "group_ratios"), None, TypeError, r"group_ratios'\] must be a list"),
    (("settings", "device"), {1, 2}, TypeError, r"data\['settings'\] must be plain JSON data, got set"),
    (("coarse",), [], TypeError, r"data\['coarse'\] must be a dict"),
    (("coarse",), {"format": "other"}, ValueError, r"data\['coarse'\] is not a saved range test"),
]


@pytest.mark.parametrize(("path", "value", "error", "match"), BAD_RESULTS, ids=lambda v: repr(v)[:40])
def test_from_dict_rejects_a_bad_field(path: tuple[Any, ...], value: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RangeTestResult.from_dict(changed(path, value))


@pytest.mark.parametrize(
    ("path", "value", "error", "match"),
    [
        (("coarse", "lrs"), [1.0, 0.5], ValueError, r"data\['coarse'\]\['lrs'\] must not decrease"),
        (("coarse", "coarse"), {}, ValueError, r"data\['coarse'\] may not have a coarse sweep of its own"),
    ],
)
def test_from_dict_rejects_a_bad_coarse_field(path: tuple[Any, ...], value: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RangeTestResult.from_dict(changed(path, value, coarse=True))


@pytest.mark.parametrize("data", [None, [], "cyclr.range_test", 1.5], ids=repr)
def test_from_dict_rejects_what_is_not_a_dict(data: Any) -> None:
    with pytest.raises(TypeError, match=r"data must be a dict \(a saved range test\)"):
        RangeTestResult.from_dict(data)


def test_a_coarse_chain_5000_deep_is_refused_without_recursion() -> None:
    data: dict[str, Any] = recorded()
    for _ in range(5000):
        data = {**recorded(), "coarse": data}
    with pytest.raises(ValueError, match="may not have a coarse sweep of its own"):
        RangeTestResult.from_dict(data)


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("[]", TypeError, "must be a dict"),
        ("null", TypeError, "must be a dict"),
        ('"x"', TypeError, "must be a dict"),
        ("{", ValueError, "Expecting"),
        ("", ValueError, "Expecting value"),
        ("[" * 100_000 + "]" * 100_000, ValueError, "nested too deeply"),
        ('{"format": "cyclr.range_test", "version": ' + "9" * 5000 + "}", ValueError, "digits"),
    ],
    ids=["list", "null", "string", "truncated", "empty", "deep", "huge-int"],
)
def test_load_rejects_files_that_are_not_a_saved_result(tmp_path: Path, text: str, error: type, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(error, match=match):
        RangeTestResult.load(path)


def test_load_rejects_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ValueError, match="utf-8"):
        RangeTestResult.load(path)


def test_load_rejects_a_coarse_chain_5000_deep(tmp_path: Path) -> None:
    text = json.dumps(recorded())
    for _ in range(5000):
        text = json.dumps(recorded())[:-1] + ', "coarse": ' + text + "}"
    path = tmp_path / "deep.json"
    path.write_text(text.replace('"coarse": null, ', ""))
    with pytest.raises(ValueError):
        RangeTestResult.load(path)


def make_cyclic() -> ct.CyclicLR:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    return ct.CyclicLR(opt, 0.001, 0.006, step_size_up=3)


def make_one_cycle() -> ct.OneCycleLR:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    return ct.OneCycleLR(opt, 0.1, total_steps=20)


BAD_STATES = [
    ("step", 3, ValueError, r"state_dict\['step'\] is not part of a scheduler's state"),
    ("get_lr", None, ValueError, "would replace"),
    ("optimizer", None, ValueError, "would replace"),
    ("__class__", None, ValueError, "would replace"),
    ("last_epoch", "3", TypeError, r"state_dict\['last_epoch'\] must be an integer"),
    ("last_epoch", -5, ValueError, r"state_dict\['last_epoch'\] must be >= -1"),
    ("base_lrs", 0.1, TypeError, r"state_dict\['base_lrs'\] must be a list with one value per param group"),
    ("base_lrs", [0.1, 0.2], ValueError, "must have 1 values, one per param group, got 2"),
    ("max_lrs", ["x"], TypeError, r"state_dict\['max_lrs'\] must be a real number"),
    ("max_lrs", [10**400], ValueError, "too large"),
    ("cycle_momentum", 1, TypeError, r"state_dict\['cycle_momentum'\] must be a bool"),
    ("base_momentums", [float("nan")], ValueError, r"state_dict\['base_momentums'\] must be finite"),
]


@pytest.mark.parametrize("make", [make_cyclic, make_one_cycle], ids=["CyclicLR", "OneCycleLR"])
@pytest.mark.parametrize(("key", "value", "error", "match"), BAD_STATES, ids=lambda v: repr(v)[:30])
def test_load_state_dict_rejects_a_bad_entry_and_changes_nothing(
    make: Any, key: str, value: Any, error: type, match: str
) -> None:
    sched = make()
    sched.step()
    before = sched.state_dict()
    with pytest.raises(error, match=match):
        sched.load_state_dict({**before, key: value})
    assert sched.state_dict() == before
    sched.step()


@pytest.mark.parametrize("make", [make_cyclic, make_one_cycle], ids=["CyclicLR", "OneCycleLR"])
@pytest.mark.parametrize("state", [None, [], {1: 2}], ids=repr)
def test_load_state_dict_rejects_what_is_not_a_dict(make: Any, state: Any) -> None:
    with pytest.raises(TypeError, match="state_dict must"):
        make().load_state_dict(state)


@pytest.mark.parametrize(
    ("make", "key", "value", "match"),
    [
        (make_cyclic, "mode", "cosine", "mode must be one of"),
        (make_cyclic, "step_size_up", float("inf"), "step_size_up must be finite"),
        (make_cyclic, "scale_fn_ref", 7, "scale_fn must be a registered name"),
        (make_cyclic, "_scale_fn_custom", [1], r"state_dict\['_scale_fn_custom'\] must be a dict"),
        (make_one_cycle, "total_steps", 0, "total_steps must be >= 1"),
        (make_one_cycle, "anneal_strategy", "cubic", "anneal_strategy must be one of"),
    ],
)
def test_load_state_dict_rejects_bad_schedule_settings(make: Any, key: str, value: Any, match: str) -> None:
    sched = make()
    before = sched.state_dict()
    with pytest.raises((ValueError, TypeError), match=match):
        sched.load_state_dict({**before, key: value})
    assert sched.state_dict() == before
