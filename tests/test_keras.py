"""cyclr.keras schedules and momentum callback, on the torch backend (see conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from helpers import assert_float32_close, cyclic_configs, lr_bounds
from hypothesis import given, settings
from hypothesis import strategies as st

import keras

import cyclr  # noqa: E402
from cyclr import CyclicSchedule, OneCycleSchedule  # noqa: E402
from cyclr.keras import (  # noqa: E402
    CyclicalLearningRate,
    CyclicLR,
    CyclicMomentum,
    ExponentialCyclicalLearningRate,
    OneCycleLR,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
)


@cyclr.register_scale_fn("test_keras.decay")
def decay(x):
    return 1.0 / (1.0 + 0.5 * (x - 1.0))


@cyclr.register_scale_fn("test_keras.damped")
@dataclasses.dataclass(frozen=True)
class Damped:
    """A saveable scale function with a parameter."""

    rate: float

    def __call__(self, x):
        return 1.0 / (1.0 + self.rate * x)


def values(schedule, steps) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(schedule(np.asarray(steps))), dtype=np.float64)


def tfa_lr(step, initial, maximal, step_size, scale_fn, scale_mode):
    """TF Addons' CyclicalLearningRate formula, written out independently."""
    cycle = math.floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    return initial + (maximal - initial) * max(0.0, 1 - x) * scale_fn(cycle if scale_mode == "cycle" else step)


STEPS = np.concatenate([np.arange(0, 1500), np.arange(1500, 500_000, 499)])


@settings(max_examples=30, deadline=None)
@given(lr_bounds(), cyclic_configs(st.integers(1, 2000)))
def test_cyclic_lr_equals_core(lr_bounds, config):
    base_lr, max_lr = lr_bounds
    schedule = CyclicLR(base_lr, max_lr, **config)
    assert_float32_close(values(schedule, STEPS), CyclicSchedule(base_lr, max_lr, **config)(STEPS), max_lr)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_one_cycle_lr_equals_core_and_holds_after_the_end(three_phase, anneal_strategy):
    schedule = OneCycleLR(0.4, 1000, pct_start=0.25, anneal_strategy=anneal_strategy, three_phase=three_phase)
    core = OneCycleSchedule(0.4, 1000, pct_start=0.25, anneal_strategy=anneal_strategy, three_phase=three_phase)
    steps = np.arange(1000)
    assert_float32_close(values(schedule, steps), core(steps), 0.4)
    # from the last step on it holds the core's final value exactly (not the extrapolated step 1000)
    final = np.float32(core(999))
    assert final == np.float32(core.min_lr)
    np.testing.assert_array_equal(values(schedule, [999, 1000, 1001, 5000, 10**9]), final)
    assert float(keras.ops.convert_to_numpy(schedule(1000))) == final


TFA_CASES = [
    (TriangularCyclicalLearningRate, {}, lambda c: 1.0, "cycle"),
    (TriangularCyclicalLearningRate, {"scale_mode": "iterations"}, lambda c: 1.0, "iterations"),
    (Triangular2CyclicalLearningRate, {}, lambda c: 1 / 2.0 ** (c - 1), "cycle"),
    (Triangular2CyclicalLearningRate, {"scale_mode": "iterations"}, lambda s: 1 / 2.0 ** (s - 1), "iterations"),
    (ExponentialCyclicalLearningRate, {"gamma": 0.999}, lambda s: 0.999**s, "iterations"),
    (ExponentialCyclicalLearningRate, {"gamma": 0.7, "scale_mode": "cycle"}, lambda c: 0.7**c, "cycle"),
]


@pytest.mark.parametrize(("cls", "kwargs", "scale_fn", "scale_mode"), TFA_CASES)
def test_tf_addons_classes_follow_its_formula(cls, kwargs, scale_fn, scale_mode):
    schedule = cls(1e-4, 1e-2, 25, **kwargs)
    steps = np.arange(400)
    expected = [tfa_lr(s, 1e-4, 1e-2, 25, scale_fn, scale_mode) for s in steps]
    assert_float32_close(values(schedule, steps), expected, 1e-2)
    assert isinstance(schedule, CyclicalLearningRate)
    assert schedule.name == cls.__name__


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_tf_addons_cyclical_learning_rate_with_a_custom_scale(scale_mode):
    schedule = CyclicalLearningRate(1e-3, 1e-1, step_size=10, scale_fn=decay, scale_mode=scale_mode, name="mine")
    steps = np.arange(300)
    expected = [tfa_lr(s, 1e-3, 1e-1, 10, decay, scale_mode) for s in steps]
    assert_float32_close(values(schedule, steps), expected, 1e-1)
    assert (schedule.initial_learning_rate, schedule.maximal_learning_rate, schedule.step_size) == (1e-3, 1e-1, 10)
    assert schedule.scale_fn is decay and schedule.name == "mine"


def record_lrs(model: keras.Model, x, y, epochs: int = 1) -> list[float]:
    seen: list[float] = []
    lr = lambda: float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))  # noqa: E731
    callback = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(lr()))
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=[callback])
    return seen


def tiny_model(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=optimizer, loss="mse")
    return model


DATA = (np.linspace(-1, 1, 36, dtype="float32").reshape(12, 3), np.linspace(0, 1, 12, dtype="float32").reshape(12, 1))


def test_optimizer_uses_the_core_value_at_each_update():
    schedule = CyclicLR(0.01, 0.05, step_size_up=2, step_size_down=3, mode="triangular2")
    lrs = record_lrs(tiny_model(keras.optimizers.SGD(learning_rate=schedule)), *DATA, epochs=4)
    # Keras asks the schedule at optimizer.iterations: 0 for the first update, as TF Addons and the core count
    assert_float32_close(lrs, schedule.schedule(np.arange(12)), 0.05)


SAVEABLE = [
    CyclicLR(1e-3, 6e-3, step_size_up=4, step_size_down=2, mode="exp_range", gamma=0.99, shape="hann", name="clr"),
    CyclicLR(1e-3, 6e-3, step_size_up=3, scale_fn=decay, scale_mode="iterations"),
    CyclicLR(1e-3, 6e-3, step_size_up=3, scale_fn=Damped(0.25)),
    OneCycleLR(0.1, 50, pct_start=0.2, anneal_strategy="linear", three_phase=True),
    CyclicalLearningRate(1e-3, 1e-2, 3, scale_fn=decay, name="addons"),
    TriangularCyclicalLearningRate(1e-3, 1e-2, 3),
    Triangular2CyclicalLearningRate(1e-3, 1e-2, 3, scale_mode="iterations"),
    ExponentialCyclicalLearningRate(1e-3, 1e-2, 3, scale_mode="cycle", gamma=0.5),
]


@pytest.mark.parametrize("schedule", SAVEABLE, ids=lambda s: type(s).__name__)
def test_config_round_trip_is_json_and_equal(schedule):
    config = json.loads(json.dumps(schedule.get_config()))
    rebuilt = type(schedule).from_config(config)
    assert rebuilt.schedule == schedule.schedule and rebuilt.name == schedule.name
    assert rebuilt.get_config() == schedule.get_config()
    serialized = keras.optimizers.schedules.serialize(schedule)
    assert serialized["registered_name"] == f"cyclr>{type(schedule).__name__}"
    assert keras.optimizers.schedules.deserialize(serialized).schedule == schedule.schedule


@pytest.mark.parametrize("schedule", [SAVEABLE[1], SAVEABLE[3], SAVEABLE[7]], ids=lambda s: type(s).__name__)
def test_compiled_model_round_trips_through_a_keras_file(schedule, tmp_path):
    model = tiny_model(keras.optimizers.Adam(learning_rate=schedule))
    model.fit(*DATA, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    restored = loaded.optimizer._learning_rate
    assert type(restored) is type(schedule) and restored.schedule == schedule.schedule
    assert int(loaded.optimizer.iterations) == 3
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(model.optimizer.learning_rate))
    np.testing.assert_array_equal(loaded.predict(DATA[0], verbose=0), model.predict(DATA[0], verbose=0))


def test_saving_with_a_lambda_scale_fn_raises_a_clear_error(tmp_path):
    schedule = CyclicalLearningRate(1e-3, 1e-2, 3, scale_fn=lambda x: 1.0)
    assert float(schedule(3)) == pytest.approx(1e-2)  # fine to train with
    with pytest.raises(TypeError, match="cannot be saved.*not registered.*register_scale_fn"):
        tiny_model(keras.optimizers.SGD(learning_rate=schedule)).save(tmp_path / "model.keras")


def test_bad_arguments_raise_at_construction():
    with pytest.warns(UserWarning, match="max_lr=0.01 is below base_lr=0.1"):
        CyclicLR(0.1, 0.01)
    with pytest.warns(UserWarning, match="max_lr=0.01 is below base_lr=0.1"):
        TriangularCyclicalLearningRate(0.1, 0.01, 10)
    with pytest.raises(ValueError, match="step_size_up must be nonzero"):
        Triangular2CyclicalLearningRate(0.01, 0.1, 0)
    with pytest.raises(ValueError, match="step_size_up \\+ step_size_down must be > 0 for a traced schedule"):
        CyclicLR(0.01, 0.1, step_size_up=-4)
    with pytest.raises(ValueError, match="the 1cycle LRs must stay within float32's range"):
        OneCycleLR(1e39, 10)
    with pytest.raises(ValueError, match="gamma must be in"):
        ExponentialCyclicalLearningRate(0.01, 0.1, 10, gamma=1.5, scale_mode="cycle")
    with pytest.raises(ValueError, match="scale_mode must be one of"):
        TriangularCyclicalLearningRate(0.01, 0.1, 10, scale_mode="epoch")
    with pytest.raises(TypeError, match="scale_fn must be callable"):
        CyclicalLearningRate(0.01, 0.1, 10, scale_fn=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        OneCycleLR(0.1, 0)
    with pytest.raises(TypeError, match="name must be a string"):
        CyclicLR(0.01, 0.1, name=3)  # type: ignore[arg-type]


# --- momentum -----------------------------------------------------------------------


def test_cyclic_momentum_changes_the_sgd_update():
    schedule = CyclicLR(0.05, 0.2, step_size_up=2)
    model = tiny_model(keras.optimizers.SGD(learning_rate=schedule, momentum=0.9))
    x, y = DATA
    w0 = model.get_weights()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[CyclicMomentum(schedule, 0.5, 0.9)])

    # Keras SGD, written out: v = momentum * v - lr * g; w += v
    w, b = [np.asarray(a, dtype=np.float64) for a in w0]
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for step in range(6):
        xb, yb = x[(step % 3) * 4 : (step % 3) * 4 + 4], y[(step % 3) * 4 : (step % 3) * 4 + 4]
        err = xb @ w + b - yb
        gw, gb = 2 * xb.T @ err / err.size, 2 * err.sum(0) / err.size
        lr, mom = schedule.schedule(step), schedule.schedule.momentum(step, 0.5, 0.9)
        vw, vb = mom * vw - lr * gw, mom * vb - lr * gb
        w, b = w + vw, b + vb
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=2e-5)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=2e-5)
    assert model.optimizer.momentum == pytest.approx(schedule.schedule.momentum(5, 0.5, 0.9))


def test_cyclic_momentum_sets_adam_beta_1_before_every_batch():
    schedule = OneCycleLR(0.01, 6)
    model = tiny_model(keras.optimizers.Adam(learning_rate=schedule))
    seen: list[float] = []
    spy = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(model.optimizer.beta_1))
    plain = tiny_model(keras.optimizers.Adam(learning_rate=schedule))
    model.fit(*DATA, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[CyclicMomentum(schedule), spy])
    plain.fit(*DATA, batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(seen, schedule.schedule.momentum(np.arange(6), 0.85, 0.95))
    assert not np.allclose(model.get_weights()[0], plain.get_weights()[0], rtol=1e-6, atol=0)


def test_cyclic_momentum_reaches_the_optimizer_inside_a_loss_scale_optimizer():
    schedule = CyclicLR(0.01, 0.1, step_size_up=2)
    inner = keras.optimizers.SGD(schedule, momentum=0.9)
    model = tiny_model(keras.optimizers.LossScaleOptimizer(inner))  # what compile does under mixed_float16
    seen: list[float] = []
    spy = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(inner.momentum))
    model.fit(*DATA, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[CyclicMomentum(schedule), spy])
    np.testing.assert_allclose(seen, schedule.schedule.momentum(np.arange(6), 0.8, 0.9))


def test_cyclic_momentum_refuses_what_it_cannot_change():
    schedule = CyclicLR(0.01, 0.1, step_size_up=2)
    compiled = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    compiled.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse", jit_compile=True)
    with pytest.raises(RuntimeError, match="needs an eager train step"):
        compiled.fit(*DATA, epochs=1, verbose=0, callbacks=[CyclicMomentum(schedule)])
    with pytest.raises(ValueError, match="momentum > 0"):
        tiny_model(keras.optimizers.SGD()).fit(*DATA, epochs=1, verbose=0, callbacks=[CyclicMomentum(schedule)])
    with pytest.warns(UserWarning, match="base_momentum=0.95 is above max_momentum=0.85"):
        CyclicMomentum(schedule, 0.95, 0.85)
    with pytest.raises(TypeError, match="schedule must be a cyclr Keras schedule"):
        CyclicMomentum(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))  # type: ignore[arg-type]


# --- files saved before cyclr.keras became a package -------------------------------


# keras.optimizers.serialize output of an SGD with a CyclicLR, as saved when the classes lived in the module cyclr.keras
SAVED_SGD = {
    "module": "keras.src.backend.torch.optimizers.torch_sgd", "class_name": "SGD", "registered_name": "SGD",
    "config": {
        "name": "sgd", "learning_rate": {
            "module": "cyclr.keras", "class_name": "CyclicLR", "registered_name": "cyclr>CyclicLR",
            "config": {"base_lr": 0.001, "max_lr": 0.006, "step_size_up": 4, "step_size_down": None,
                       "mode": "triangular", "gamma": 1.0, "scale_fn": None, "scale_mode": "cycle",
                       "shape": "triangular", "name": "clr"},
        },
        "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
        "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
        "gradient_accumulation_steps": None, "momentum": 0.9, "nesterov": False,
    },
}

SAVED_SCHEDULES = [
    ({"module": "cyclr.keras", "class_name": "OneCycleLR", "registered_name": "cyclr>OneCycleLR",
      "config": {"max_lr": 0.1, "total_steps": 50, "pct_start": 0.2, "anneal_strategy": "linear", "div_factor": 25.0,
                 "final_div_factor": 10000.0, "three_phase": True, "name": "OneCycleLR"}},
     OneCycleLR(0.1, 50, pct_start=0.2, anneal_strategy="linear", three_phase=True)),
    ({"module": "cyclr.keras", "class_name": "CyclicalLearningRate", "registered_name": "cyclr>CyclicalLearningRate",
      "config": {"initial_learning_rate": 0.001, "maximal_learning_rate": 0.01, "step_size": 3, "scale_mode": "cycle",
                 "name": "addons", "scale_fn": "test_keras.decay"}},
     CyclicalLearningRate(1e-3, 1e-2, 3, scale_fn=decay, name="addons")),
    ({"module": "cyclr.keras", "class_name": "Triangular2CyclicalLearningRate",
      "registered_name": "cyclr>Triangular2CyclicalLearningRate",
      "config": {"initial_learning_rate": 0.001, "maximal_learning_rate": 0.01, "step_size": 3,
                 "scale_mode": "iterations", "name": "Triangular2CyclicalLearningRate"}},
     Triangular2CyclicalLearningRate(1e-3, 1e-2, 3, scale_mode="iterations")),
    ({"module": "cyclr.keras", "class_name": "ExponentialCyclicalLearningRate",
      "registered_name": "cyclr>ExponentialCyclicalLearningRate",
      "config": {"initial_learning_rate": 0.001, "maximal_learning_rate": 0.01, "step_size": 3, "scale_mode": "cycle",
                 "name": "ExponentialCyclicalLearningRate", "gamma": 0.5}},
     ExponentialCyclicalLearningRate(1e-3, 1e-2, 3, scale_mode="cycle", gamma=0.5)),
]


@pytest.mark.parametrize(("saved", "expected"), SAVED_SCHEDULES, ids=lambda v: getattr(v, "name", "config"))
def test_schedules_saved_from_the_former_module_still_load(saved, expected):
    restored = keras.optimizers.schedules.deserialize(json.loads(json.dumps(saved)))
    assert type(restored) is type(expected) and restored.schedule == expected.schedule
    assert restored.get_config() == saved["config"]


def test_an_optimizer_saved_from_the_former_module_still_loads():
    optimizer = keras.optimizers.deserialize(json.loads(json.dumps(SAVED_SGD)))
    restored = optimizer._learning_rate
    assert isinstance(restored, CyclicLR) and restored.schedule == CyclicSchedule(0.001, 0.006, step_size_up=4)
    assert restored.name == "clr" and optimizer.momentum == 0.9


def test_cyclic_lr_kwargs_fit_every_cyclic_schedule() -> None:
    from cyclr.keras import CyclicLR as KerasCyclicLR
    from cyclr.suggest import Bounds

    kwargs = Bounds(0.01, 0.04, "valley").cyclic_lr_kwargs(iterations_per_epoch=10)
    core = cyclr.CyclicSchedule(**kwargs)
    keras_schedule = KerasCyclicLR(**kwargs)
    for step in (0, 13, 40, 77):
        assert float(keras.ops.convert_to_numpy(keras_schedule(step))) == pytest.approx(float(core(step)))


@pytest.mark.parametrize("make", [
    lambda big: CyclicLR(base_lr=big, max_lr=0.006, step_size_up=4),
    lambda big: CyclicLR(base_lr=0, max_lr=big, step_size_up=4),
    lambda big: OneCycleLR(big, 50),
])
def test_integer_bounds_past_int64_compute_as_floats(make):
    """A config (a .keras file) may hold an integer bound too large for an int64 tensor: it is a float LR."""
    big = 10**30
    schedule = make(big)
    loaded = type(schedule).from_config(json.loads(json.dumps(schedule.get_config())))
    core = schedule.schedule  # the framework-free schedule it wraps
    for s in (schedule, loaded):
        got = values(s, [0, 1, 3, 7])
        assert np.all(np.isfinite(got))
        assert_float32_close(got, core(np.array([0, 1, 3, 7])), float(big))
