"""Loading schedules from their dicts: bad data is refused, and older files still load."""

from __future__ import annotations

import json
from typing import Any

import pytest

import cyclr
from cyclr import CyclicSchedule, OneCycleSchedule, RangeSweep

BAD_SCHEDULES = [
    (None, TypeError, "data must be a dict, got NoneType"),
    ([], TypeError, "data must be a dict, got list"),
    ({}, ValueError, r"data\['kind'\] must be one of"),
    ({"kind": ["cyclic"]}, ValueError, r"data\['kind'\] must be one of"),
    ({"type": ["cyclic"]}, ValueError, r"data\['type'\] must be one of"),
    ({"kind": "cyclic", "type": "one_cycle"}, ValueError, r"data\['kind'\] and data\['type'\].*disagree"),
    ({"kind": "cyclic"}, ValueError, r"missing the fields \['base_lr', 'max_lr'\]"),
    ({"type": "cyclic"}, ValueError, r"missing the fields \['base_lr', 'max_lr'\]"),
    ({"kind": "cyclic", "base_lr": 0.1, "max_lr": 0.2, "extra": 1}, ValueError, r"fields \['extra'\]"),
    ({"kind": "cyclic", 1: 2}, TypeError, "data must have string keys"),
    ({"kind": "cyclic", "base_lr": "0.1", "max_lr": 0.2}, TypeError, "base_lr must be a real number"),
    ({"kind": "one_cycle", "max_lr": 0.1, "total_steps": 10**400}, ValueError, "total_steps is too large"),
    ({"kind": "one_cycle", "max_lr": 0.1, "total_steps": 100, "three_phase": "yes"}, TypeError, "three_phase"),
    ({"kind": "range_sweep", "start_lr": 0.0, "end_lr": 1.0}, ValueError, r"missing the fields \['num_iter'\]"),
    ({"kind": "cyclic", "base_lr": 0.1, "max_lr": 0.2, "scale_fn": 3}, TypeError, "scale_fn must be a registered"),
    ({"kind": "cyclic", "base_lr": 0.1, "max_lr": 0.2, "scale_fn": "nope"}, ValueError, "unknown scale function"),
]


@pytest.mark.parametrize(("data", "error", "match"), BAD_SCHEDULES, ids=lambda v: repr(v)[:40])
def test_schedule_from_dict_rejects_bad_data(data: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cyclr.schedule_from_dict(data)


@pytest.mark.parametrize("cls", [CyclicSchedule, OneCycleSchedule, RangeSweep])
@pytest.mark.parametrize("key", ["kind", "type"])
def test_each_from_dict_rejects_another_kind(cls: type, key: str) -> None:
    with pytest.raises(ValueError, match=f"data describes a 'other', not a {cls.kind!r}"):
        cls.from_dict({key: "other"})
    with pytest.raises(TypeError, match="data must be a dict"):
        cls.from_dict(None)


SAVED = [
    CyclicSchedule(0.001, 0.006, 100, 50, mode="exp_range", gamma=0.999, shape="welch"),
    OneCycleSchedule(0.1, 1000, pct_start=0.25, anneal_strategy="linear", three_phase=True),
    RangeSweep(1e-5, 1.0, 100, step_mode="exp"),
]


@pytest.mark.parametrize("sched", SAVED, ids=lambda s: type(s).__name__)
def test_to_dict_names_the_kind(sched: Any) -> None:
    data = sched.to_dict()
    assert data["kind"] == sched.kind and "type" not in data
    assert cyclr.schedule_from_dict(json.loads(json.dumps(data))) == sched


# Written out as earlier versions saved them, with the kind under "type".
EARLIER_FILES = [
    (
        '{"type": "cyclic", "base_lr": 0.001, "max_lr": 0.006, "step_size_up": 100, "step_size_down": 50, '
        '"mode": "exp_range", "gamma": 0.999, "scale_fn": null, "scale_mode": "iterations", "shape": "welch"}',
        SAVED[0],
    ),
    (
        '{"type": "one_cycle", "max_lr": 0.1, "total_steps": 1000, "pct_start": 0.25, "anneal_strategy": "linear", '
        '"div_factor": 25.0, "final_div_factor": 10000.0, "three_phase": true}',
        SAVED[1],
    ),
    ('{"type": "range_sweep", "start_lr": 1e-05, "end_lr": 1.0, "num_iter": 100, "step_mode": "exp"}', SAVED[2]),
]


@pytest.mark.parametrize(("text", "expected"), EARLIER_FILES, ids=lambda v: getattr(v, "kind", "json"))
def test_dicts_saved_by_earlier_versions_still_load(text: str, expected: Any) -> None:
    data = json.loads(text)
    assert cyclr.schedule_from_dict(data) == expected
    assert type(expected).from_dict(data) == expected
    both = {**data, "kind": data["type"]}  # a file that names it twice, consistently
    assert cyclr.schedule_from_dict(both) == expected
