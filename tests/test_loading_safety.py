"""Loading never imports or calls code that the running process did not register.

Every way a scale function reference reaches a loader is tried with hostile
references: a shell command through ``subprocess.Popen``, ``os`` functions, and
a module that leaves a marker file when it is imported. The marker never
appears, and the loader raises ValueError or TypeError.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import torch

import cyclr
import cyclr.torch as ct
from cyclr import CyclicSchedule, RangeSweep
from cyclr.keras import CyclicalLearningRate, CyclicLR
from cyclr.rangetest import RangeTestRecorder, RangeTestResult


@cyclr.register_scale_fn("test_safety.decay")
def decay(x: Any) -> Any:
    return 1.0 / (1.0 + 0.5 * (x - 1.0))


@cyclr.register_scale_fn("test_safety.power")
@dataclasses.dataclass(frozen=True)
class Power:
    power: float

    def __call__(self, x: Any) -> Any:
        return x**-self.power


def test_module_level_function_must_be_registered_to_be_saved() -> None:
    with pytest.raises(TypeError, match=r"not registered.*@cyclr.register_scale_fn\('name'\)"):
        CyclicSchedule(0.1, 1.0, scale_fn=plain_module_function).to_dict()


def plain_module_function(x: float) -> float:
    return 1.0


@pytest.fixture
def evil_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module on sys.path that writes a marker file when it is imported."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "cyclr_test_evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "def f(x):\n    return 1.0\n"
        "class C:\n    def __init__(self, **kw):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "cyclr_test_evil", marker
    sys.modules.pop("cyclr_test_evil", None)


def hostile_refs(tmp_path: Path, module: str) -> list[Any]:
    marker = tmp_path / "shell.txt"
    return [
        {"class": "subprocess:Popen", "fields": {"args": f"touch {marker}", "shell": True}},
        {"class": "os:system", "fields": {"command": f"touch {marker}"}},
        "os:getpid",
        "os:system",
        "builtins:eval",
        f"{module}:f",
        {"class": f"{module}:C", "fields": {}},
        module,
        {"class": "test_safety.decay", "fields": {}},  # a registered function is not a class
        {"class": "test_safety.power", "fields": {"power": 0.5, "__class__": "os:system"}},
        ["os:getpid"],
        {"class": "test_safety.power"},
        {"class": "test_safety.power", "fields": {"power": {"__import__": "os"}}, "extra": 1},
    ]


def assert_nothing_ran(tmp_path: Path, module: str) -> None:
    assert not (tmp_path / "shell.txt").exists()
    assert not (tmp_path / "imported.txt").exists()
    assert module not in sys.modules


def cyclic_dict(ref: Any) -> dict[str, Any]:
    return {"type": "cyclic", "base_lr": 0.001, "max_lr": 0.006, "scale_fn": ref}


def test_schedule_from_dict_refuses_hostile_refs(tmp_path: Path, evil_module: tuple[str, Path]) -> None:
    module, _ = evil_module
    for ref in hostile_refs(tmp_path, module):
        with pytest.raises((ValueError, TypeError)):
            cyclr.schedule_from_dict(cyclic_dict(ref))
        with pytest.raises((ValueError, TypeError)):
            CyclicSchedule.from_dict(cyclic_dict(ref))
    assert_nothing_ran(tmp_path, module)


def test_unknown_name_says_how_to_register() -> None:
    with pytest.raises(ValueError, match=r"unknown scale function 'os:getpid'.*@cyclr.register_scale_fn\('name'\)"):
        cyclr.schedule_from_dict(cyclic_dict("os:getpid"))


def test_range_sweep_has_no_scale_fn_to_resolve(tmp_path: Path, evil_module: tuple[str, Path]) -> None:
    module, _ = evil_module
    base = RangeSweep(1e-5, 1.0, 10).to_dict()
    for ref in hostile_refs(tmp_path, module):
        with pytest.raises(ValueError, match="fields \\['scale_fn'\\] that RangeSweep does not take"):
            RangeSweep.from_dict({**base, "scale_fn": ref})
        with pytest.raises(ValueError, match="does not take"):
            cyclr.schedule_from_dict({**base, "scale_fn": ref})
    assert_nothing_ran(tmp_path, module)


def saved_result(tmp_path: Path, sweep_extra: dict[str, Any]) -> Path:
    rec = RangeTestRecorder(RangeSweep(1e-4, 1.0, 6, "exp"))
    for loss in (1.0, 0.5, 20.0, 400.0):
        if rec.record_loss(loss):
            break
    data = rec.result().to_dict()
    data["settings"]["sweep"].update(sweep_extra)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    return path


def test_range_test_result_load_refuses_hostile_refs(tmp_path: Path, evil_module: tuple[str, Path]) -> None:
    module, _ = evil_module
    for ref in hostile_refs(tmp_path, module):
        path = saved_result(tmp_path, {"scale_fn": ref})
        with pytest.raises(ValueError, match="scale_fn"):
            RangeTestResult.load(path)  # refused on load, before .stop_lr or .plot() could read the sweep
        data = json.loads(path.read_text())
        with pytest.raises(ValueError, match="scale_fn"):
            RangeTestResult.from_dict({"format": data["format"], "version": 1, **data})
    assert_nothing_ran(tmp_path, module)


def test_a_range_test_result_with_a_clean_sweep_still_reads_its_stop_lr(tmp_path: Path) -> None:
    back = RangeTestResult.load(saved_result(tmp_path, {}))
    assert back.stop_reason == "diverged" and back.stop_lr == back.lrs[back.stop_step]
    assert back.sweep == RangeSweep(1e-4, 1.0, 6, "exp")


def make_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)


def through_torch_save(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_torch_load_state_dict_refuses_hostile_refs(tmp_path: Path, evil_module: tuple[str, Path]) -> None:
    module, _ = evil_module
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006, step_size_up=3, scale_fn=decay)
    for _ in range(4):
        sched.step()
    before = sched.state_dict()
    for ref in hostile_refs(tmp_path, module):
        state = through_torch_save({**sched.state_dict(), "scale_fn_ref": ref})
        with pytest.raises((ValueError, TypeError)):
            sched.load_state_dict(state)
        assert sched.state_dict() == before  # a rejected state changes nothing
    assert_nothing_ran(tmp_path, module)
    sched.step()  # and the scheduler still works


@pytest.mark.parametrize("fn", [decay, Power(0.5)], ids=["function", "dataclass"])
def test_registered_scale_fn_still_round_trips_through_a_weights_only_checkpoint(fn: Any) -> None:
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006, step_size_up=3, scale_fn=fn)
    for _ in range(5):
        sched.step()
    fresh = ct.CyclicLR(make_optimizer(), 0.001, 0.006, step_size_up=3)
    fresh.load_state_dict(through_torch_save(sched.state_dict()))
    for _ in range(6):
        sched.step()
        fresh.step()
        assert fresh.get_last_lr() == sched.get_last_lr()


def test_keras_from_config_refuses_hostile_refs(tmp_path: Path, evil_module: tuple[str, Path]) -> None:
    module, _ = evil_module
    configs = [CyclicLR(1e-3, 6e-3, 3, scale_fn=decay).get_config(),
               CyclicalLearningRate(1e-3, 6e-3, 3, scale_fn=decay).get_config()]
    for ref in hostile_refs(tmp_path, module):
        for cls, config in zip((CyclicLR, CyclicalLearningRate), configs):
            with pytest.raises((ValueError, TypeError)):
                cls.from_config({**config, "scale_fn": ref})
    assert_nothing_ran(tmp_path, module)


def tampered_keras_file(tmp_path: Path, ref: Any) -> Path:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=CyclicLR(1e-3, 6e-3, 3, scale_fn=decay)), loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    clean, path = tmp_path / "clean.keras", tmp_path / "tampered.keras"
    model.save(clean)
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            payload = src.read(item.filename)
            if item.filename == "config.json":
                text = payload.decode()
                assert '"scale_fn": "test_safety.decay"' in text
                payload = text.replace('"scale_fn": "test_safety.decay"', f'"scale_fn": {json.dumps(ref)}').encode()
            dst.writestr(item, payload)
    return path


def test_keras_load_model_refuses_hostile_refs(tmp_path: Path, evil_module: tuple[str, Path]) -> None:
    module, _ = evil_module
    refs = hostile_refs(tmp_path, module)
    for ref in (refs[0], refs[2], refs[5], refs[6]):
        path = tampered_keras_file(tmp_path, ref)
        for safe_mode in (True, False):
            with pytest.raises((ValueError, TypeError), match="scale function|scale_fn"):
                keras.saving.load_model(path, safe_mode=safe_mode)
    assert_nothing_ran(tmp_path, module)
    loaded = keras.saving.load_model(tmp_path / "clean.keras", safe_mode=True)
    assert loaded.optimizer._learning_rate.schedule.scale_fn is decay
