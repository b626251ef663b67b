"""One contract for every backend: each computes the core schedule.

The core's scalar path (PyTorch's arithmetic) is the reference. The core's
numpy path and cyclr.torch's schedulers equal it; the traced schedules of
cyclr.keras and cyclr.optax equal it to float32 precision. Every mode, shape
and 1cycle option runs on every backend; a backend whose framework is not
installed is skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import MODES, SHAPES, assert_float32_close

from cyclr import CyclicSchedule, OneCycleSchedule


@dataclasses.dataclass(frozen=True)
class Backend:
    """How one backend computes a core schedule's LRs and momenta at ``steps``."""

    name: str
    lrs: Callable[[Any, np.ndarray], np.ndarray]
    momenta: Callable[[Any, np.ndarray, float, float], np.ndarray] | None
    traced: bool  # float32: equal to float32 precision rather than exactly


def _core_array_lrs(core: Any, steps: np.ndarray) -> np.ndarray:
    return np.asarray(core(steps))


def _core_array_momenta(core: Any, steps: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.asarray(core.momentum(steps, low, high))


def _torch_run(core: Any, steps: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    import torch
    import cyclr.torch as ct

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.5)
    if isinstance(core, CyclicSchedule):
        fields = {f.name: getattr(core, f.name) for f in dataclasses.fields(core)}
        fields.pop("scale_fn")
        sched: Any = ct.CyclicLR(opt, base_momentum=low, max_momentum=high, **fields)
    else:
        fields = {f.name: getattr(core, f.name) for f in dataclasses.fields(core)}
        sched = ct.OneCycleLR(opt, base_momentum=low, max_momentum=high, **fields)
    lrs, momenta = [], []
    for _ in range(int(steps.max()) + 1):
        lrs.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs)[steps], np.array(momenta)[steps]


def _keras_lrs(core: Any, steps: np.ndarray) -> np.ndarray:
    import keras
    import cyclr.keras as ck

    fields = {f.name: getattr(core, f.name) for f in dataclasses.fields(core)}
    schedule = ck.CyclicLR(**fields) if isinstance(core, CyclicSchedule) else ck.OneCycleLR(**fields)
    return np.asarray(keras.ops.convert_to_numpy(schedule(steps)), dtype=np.float64)


def _optax_schedule(core: Any) -> Any:
    import jax  # noqa: F401
    from cyclr.optax import OptaxSchedule

    return OptaxSchedule(core)


def _optax_lrs(core: Any, steps: np.ndarray) -> np.ndarray:
    import jax

    return np.asarray(jax.jit(_optax_schedule(core))(steps), dtype=np.float64)


def _optax_momenta(core: Any, steps: np.ndarray, low: float, high: float) -> np.ndarray:
    import jax

    return np.asarray(jax.jit(_optax_schedule(core).momentum(low, high))(steps), dtype=np.float64)


BACKENDS = [
    Backend("core-array", _core_array_lrs, _core_array_momenta, traced=False),
    Backend("torch", lambda core, steps: _torch_run(core, steps, 0.8, 0.9)[0],
            lambda core, steps, low, high: _torch_run(core, steps, low, high)[1], traced=False),
    Backend("keras", _keras_lrs, None, traced=True),
    Backend("optax", _optax_lrs, _optax_momenta, traced=True),
]

CYCLIC = [
    CyclicSchedule(0.01, 0.1, step_size_up=up, step_size_down=down, mode=mode, gamma=0.97, shape=shape)
    for mode, shape, (up, down) in itertools.product(MODES, SHAPES, [(4, None), (5, 3)])
]
ONE_CYCLE = [
    OneCycleSchedule(0.1, 40, pct_start=pct, anneal_strategy=strategy, three_phase=three)
    for strategy, three, pct in itertools.product(["cos", "linear"], [False, True], [0.3, 0.45])
]
SCHEDULES = CYCLIC + ONE_CYCLE


def _id(core: Any) -> str:
    if isinstance(core, CyclicSchedule):
        return f"{core.mode}-{core.shape}-{core.step_size_up}/{core.step_size_down}"
    return f"1cycle-{core.anneal_strategy}-{'three' if core.three_phase else 'two'}-{core.pct_start}"


def _steps(core: Any) -> np.ndarray:
    if isinstance(core, CyclicSchedule):
        return np.arange(int(3 * core.total_size) + 1)
    return np.arange(core.total_steps)


def _assert_equal(backend: Backend, got: np.ndarray, expected: list[float], scale: float) -> None:
    if backend.traced:
        assert_float32_close(got, expected, scale)
    elif backend.name == "core-array":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
    else:
        assert got.tolist() == expected  # bit for bit


@pytest.mark.parametrize("core", SCHEDULES, ids=_id)
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_backend_lr_equals_the_core(backend: Backend, core: Any) -> None:
    steps = _steps(core)
    expected = [core(int(step)) for step in steps]
    _assert_equal(backend, backend.lrs(core, steps), expected, float(core.max_lr))


@pytest.mark.parametrize("core", SCHEDULES, ids=_id)
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b.momenta], ids=lambda b: b.name)
def test_backend_momentum_equals_the_core(backend: Backend, core: Any) -> None:
    steps = _steps(core)
    expected = [core.momentum(int(step), 0.85, 0.95) for step in steps]
    _assert_equal(backend, backend.momenta(core, steps, 0.85, 0.95), expected, 1.0)  # type: ignore[misc]
