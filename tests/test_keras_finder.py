"""cyclr.keras.LRFinder on the torch backend (see conftest.py), and the jax backend in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import torch

from cyclr import RangeSweep
from cyclr.keras import CyclicLR, LRFinder
from cyclr.rangetest import RangeTestResult, default_smooth_beta

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 4)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")


class SpyModel(keras.Sequential):
    """Records the learning rate of every update it makes."""

    seen: list[float]

    def train_step(self, data):
        self.seen.append(float(keras.ops.convert_to_numpy(self.optimizer.learning_rate)))
        return super().train_step(data)


def classifier(optimizer=None, cls=keras.Sequential, seed: int = 1) -> keras.Model:
    keras.utils.set_random_seed(seed)
    hidden = [keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.2)]
    model = cls([keras.Input((4,)), *hidden, keras.layers.Dense(2)])
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def snapshot(model: keras.Model) -> list[np.ndarray]:
    variables = [*model.variables, *model.optimizer.variables]
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def assert_same_state(model: keras.Model, before: list[np.ndarray]) -> None:
    after = snapshot(model)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


def test_sweeps_the_lr_records_validation_metrics_and_restores_the_model():
    model = classifier(cls=SpyModel)
    model.seen = []
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)  # optimizer state and a nonzero step count
    model.seen = []
    before = snapshot(model)
    finder = LRFinder(model, progress=False)
    result = finder.range_test(
        X, Y, validation_data=(X[:32], Y[:32]), start_lr=0.0, end_lr=0.5, num_iter=12, batch_size=16, val_every=4
    )
    assert isinstance(result, RangeTestResult) and finder.result is result
    assert result.stop_reason == "finished" and result.sweep == RangeSweep(0.0, 0.5, 12, "linear")
    np.testing.assert_allclose(model.seen, result.lrs, rtol=1e-6, atol=1e-9)  # the LR each update really used
    np.testing.assert_allclose(result.lrs, np.linspace(0.0, 0.5, 12))
    assert set(result.metrics) == {"val_loss", "val_accuracy"}
    assert result.metric_steps.tolist() == [3, 7, 11]
    assert all(0.0 <= a <= 1.0 for a in result.metrics["val_accuracy"])
    assert_same_state(model, before)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)


def test_a_later_fit_is_as_if_the_test_never_ran():
    schedule = CyclicLR(1e-3, 1e-2, step_size_up=3)
    tested, untouched = (classifier(keras.optimizers.SGD(schedule, momentum=0.9)) for _ in range(2))
    for model in (tested, untouched):
        # Keras' first fit builds the step and draws from torch's RNG doing so: get both past it
        keras.utils.set_random_seed(3)
        model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    rng = torch.get_rng_state()
    LRFinder(tested, progress=False).range_test(X, Y, start_lr=1e-4, end_lr=1.0, num_iter=8, batch_size=16)
    assert torch.equal(torch.get_rng_state(), rng)  # the unseeded dropout drew from it
    for model in (tested, untouched):
        torch.set_rng_state(rng)
        model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(snapshot(tested), snapshot(untouched)):
        np.testing.assert_array_equal(a, b)


def test_exponential_sweep_stops_when_the_loss_diverges():
    model = classifier(keras.optimizers.SGD(0.01))
    before = snapshot(model)
    result = LRFinder(model, progress=False).range_test(X, Y, start_lr=1e-3, end_lr=1e6, num_iter=60, batch_size=16)
    assert result.settings["sweep"]["step_mode"] == "exp"
    assert result.stop_reason in ("diverged", "non_finite") and len(result) < 60
    assert_same_state(model, before)


def batches(n: int):
    for i in range(n):
        yield X[16 * i : 16 * i + 16], Y[16 * i : 16 * i + 16]


class Batches:
    """A re-iterable collection of batches, like a DataLoader."""

    def __iter__(self):
        return batches(3)


def test_iterable_data_is_cycled_and_a_one_shot_generator_stops_the_test():
    model = classifier()
    cycled = LRFinder(model, progress=False).range_test(
        Batches(), validation_data=Batches(), start_lr=1e-4, end_lr=1e-2, num_iter=7, val_every=7, val_batches=2
    )
    assert cycled.stop_reason == "finished" and len(cycled) == 7 and cycled.metric_steps.tolist() == [6]
    one_shot = LRFinder(model, progress=False).range_test(batches(5), start_lr=1e-4, end_lr=1e-2, num_iter=9)
    assert one_shot.stop_reason == "exhausted" and len(one_shot) == 5


def test_an_error_mid_test_still_restores_and_keeps_the_partial_curve():
    model = classifier()
    model.optimizer.build(model.trainable_variables)  # else the test builds it, adding Adam's moments
    before = snapshot(model)

    def failing():
        yield from batches(3)
        raise RuntimeError("reader broke")

    finder = LRFinder(model, progress=False)
    with pytest.raises(RuntimeError, match="reader broke") as info:
        finder.range_test(failing(), start_lr=1e-4, end_lr=1e-2, num_iter=10)
    assert finder.result is not None and len(finder.result) == 3 and finder.result.stop_reason == "error"
    assert info.value.range_test_result is finder.result
    assert_same_state(model, before)


def test_validation_sample_weights_are_used():
    weights = (np.arange(96) < 40).astype("float32")  # only the first 40 samples count
    options = {"start_lr": 1e-3, "end_lr": 1e-2, "num_iter": 2, "batch_size": 16, "val_every": 1}
    finder = LRFinder(classifier(), progress=False)
    weighted = finder.range_test(X, Y, validation_data=(X, Y, weights), **options)
    subset = finder.range_test(X, Y, validation_data=(X[:40], Y[:40]), **options)
    everything = finder.range_test(X, Y, validation_data=(X, Y), **options)
    # the loss is weighted (``metrics=`` are not, as in model.evaluate); a mean over all 96 samples
    np.testing.assert_allclose(weighted.metrics["val_loss"], subset.metrics["val_loss"] * 40 / 96, rtol=1e-5)
    assert not np.allclose(everything.metrics["val_loss"], weighted.metrics["val_loss"], rtol=1e-3)


def test_default_smoothing_follows_the_sweep_length():
    result = LRFinder(classifier(), progress=False).range_test(X, Y, start_lr=1e-4, end_lr=1e-2, num_iter=20)
    assert result.settings["smooth_beta"] == default_smooth_beta(20)


def test_bad_options_are_rejected_before_a_generator_is_read():
    data = batches(3)
    finder = LRFinder(classifier(), progress=False)
    with pytest.raises(ValueError, match="diverge_th must be > 1"):
        finder.range_test(data, start_lr=1e-4, end_lr=1e-2, diverge_th=1.0)
    with pytest.raises(ValueError, match="smooth_beta must be in"):
        finder.range_test(data, start_lr=1e-4, end_lr=1e-2, smooth_beta=2.0)
    assert len(list(data)) == 3


def test_bad_arguments():
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        LRFinder("model")  # type: ignore[arg-type]
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="must be compiled"):
        LRFinder(uncompiled).range_test(X, Y)
    finder = LRFinder(classifier(), progress=False)
    with pytest.raises(ValueError, match="start_lr must be >= 0"):
        finder.range_test(X, Y, start_lr=-1.0)
    with pytest.raises(ValueError, match="step_mode must be one of"):
        finder.range_test(X, Y, step_mode="cosine")
    with pytest.raises(ValueError, match="end_lr must be > start_lr"):
        finder.range_test(X, Y, start_lr=1.0, end_lr=0.5)
    with pytest.raises(ValueError, match="x must yield at least one batch"):
        finder.range_test(batches(0))
    with pytest.raises(TypeError, match="validation_data must be"):
        finder.range_test(X, Y, validation_data=5)
    with pytest.raises(TypeError, match="x must be arrays or an iterable"):
        finder.range_test(5)


JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np, keras
    from cyclr.keras import CyclicLR, LRFinder
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
    schedule = CyclicLR(1e-3, 1e-2, step_size_up=2, step_size_down=3, shape="welch")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss=loss)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 8 jit-compiled updates
    assert keras.backend.backend() == "jax"
    lr = float(model.optimizer.learning_rate)
    assert abs(lr - schedule.schedule(8)) < 1e-8, (lr, schedule.schedule(8))
    before = [np.array(v) for v in model.variables + model.optimizer.variables]
    result = LRFinder(model, progress=False).range_test(x, y, start_lr=1e-3, end_lr=1.0, num_iter=6, batch_size=8)
    assert len(result) == 6 and result.stop_reason == "finished", result
    after = [np.array(v) for v in model.variables + model.optimizer.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert abs(float(model.optimizer.learning_rate) - schedule.schedule(12)) < 1e-8
    print("ok")
    """
)


def test_schedule_and_finder_on_the_jax_backend():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]


def digits_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_automatic_two_stage_mode_on_digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[:608], order[1200:1500]
    model = digits_model()
    model.optimizer.build(model.trainable_variables)  # its momentum variables, to compare afterwards
    before = snapshot(model)
    finder = LRFinder(model, progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only contend for the cores
    try:
        result = finder.range_test(x[train], y[train], validation_data=(x[val], y[val]))
    finally:
        torch.set_num_threads(threads)
    coarse = result.coarse
    assert finder.result is result
    # the torch finder's plan: a coarse exponential sweep from 1e-7 to 10 over 100 steps, then 8 epochs linear from 0
    assert coarse is not None and coarse.log_scale and coarse.lrs[0] == pytest.approx(1e-7)
    assert coarse.settings["stage"] == "coarse" and coarse.metrics == {}
    assert coarse.stop_reason in ("diverged", "finished")
    assert result.settings["stage"] == "main" and result.sweep.step_mode == "linear"
    assert result.sweep.num_iter == 8 * 19 and result.lrs[0] == 0.0
    assert result.sweep.end_lr <= (coarse.stop_lr or 10.0)
    assert result.settings["val_every"] == 8 * 19 // 30 and result.metric_steps.size >= 25
    bounds = result.suggest()
    assert bounds.method == "metric" and bounds.details["metric"] == "val_accuracy"
    assert result.metrics["val_accuracy"].max() > 0.8
    assert 0.005 < bounds.max_lr < result.sweep.end_lr
    assert_same_state(model, before)


def test_automatic_mode_on_a_one_shot_generator_says_so():
    def batches(n):
        for _ in range(n):
            yield X[:16], Y[:16]

    from cyclr import NoSuggestionError

    finder = LRFinder(classifier(), progress=False)
    with pytest.raises(NoSuggestionError, match="ran out of batches after 3 steps: x is a one-shot"):
        finder.range_test(batches(3), num_iter=40)
    with pytest.raises(NoSuggestionError, match="x was exhausted after 25 batches, leaving the linear sweep 5 steps"):
        finder.range_test(batches(25), num_iter=40, coarse_iter=20)
    partial = finder.result
    assert partial is not None and len(partial) == 5 and partial.coarse is not None and len(partial.coarse) == 20


def test_step_mode_exp_without_start_lr_is_one_exponential_sweep():
    result = LRFinder(classifier(), progress=False).range_test(X, Y, num_iter=12, step_mode="exp", batch_size=16)
    assert result.coarse is None and result.settings["stage"] == "single"
    assert result.sweep == RangeSweep(1e-7, 10.0, 12, "exp") or result.stop_reason != "finished"
