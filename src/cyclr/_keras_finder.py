"""``cyclr.keras.LRFinder``: the LR range test on a compiled Keras 3 model, any backend.

Each step is one ``model.train_on_batch`` at the sweep's next LR; the loss goes
to a :class:`~cyclr.rangetest.RangeTestRecorder`, which decides when to stop.
The sweep reaches the optimizer as a temporary ``LearningRateSchedule`` indexed
by the optimizer's ``iterations``, so it also works where the train step is
compiled (jax, tensorflow) and whatever learning rate the optimizer had. The
model's variables (random seeds included), the optimizer's variables and
learning rate, the metric states and, on the torch backend, torch's global RNG
are put back afterwards, also when the test raises.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import keras
import numpy as np

from . import _validate as check
from .rangetest import RangeTestRecorder, RangeTestResult
from .schedules import STEP_MODES, RangeSweep

Batch = tuple[Any, Any, Any]  # (x, y, sample_weight)


class _SweepLR(keras.optimizers.schedules.LearningRateSchedule):
    """The recorder's LRs, looked up by ``iterations - first_step``: the values recorded, to float32."""

    def __init__(self, lrs: list[float], first_step: int) -> None:
        self.lrs = np.asarray(lrs, dtype="float32")
        self.first_step = first_step

    def __call__(self, step: Any) -> Any:
        index = keras.ops.clip(keras.ops.cast(step, "int32") - self.first_step, 0, len(self.lrs) - 1)
        return keras.ops.take(keras.ops.convert_to_tensor(self.lrs), index)

    def get_config(self) -> dict[str, Any]:
        return {"lrs": self.lrs.tolist(), "first_step": self.first_step}


class LRFinder:
    """The LR range test for a compiled Keras 3 model.

    Args:
        model: a model compiled with an optimizer and a loss; its metrics are
            recorded on the validation data (``val_`` + name).
        progress: show a tqdm bar.

    After :meth:`range_test` the model and its optimizer are as before; the
    curve is on ``finder.result`` (also when the test raises, and on the
    exception as ``range_test_result``).
    """

    def __init__(self, model: keras.Model, progress: bool = True) -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be a bool, got {progress!r}")
        self.model = model
        self.progress = progress
        self.result: RangeTestResult | None = None

    def range_test(
        self,
        x: Any,
        y: Any = None,
        validation_data: Any = None,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_iter: int = 100,
        step_mode: str | None = None,
        batch_size: int | None = None,
        *,
        val_every: int | None = None,
        val_batches: int | None = None,
        smooth_beta: float | None = None,
        diverge_th: float = 5.0,
        seed: int = 0,
    ) -> RangeTestResult:
        """Train while the LR rises from ``start_lr`` to ``end_lr``; return the curve.

        Args:
            x, y: training data as for ``model.fit``: arrays (or nested
                structures of arrays) with ``y``, cut into batches of
                ``batch_size`` (default 32) and reshuffled every pass with
                ``seed``; or, with ``y=None``, any iterable of batches
                (``(x, y)`` or ``(x, y, sample_weight)``: a generator,
                ``keras.utils.PyDataset``, ``tf.data.Dataset``, torch
                ``DataLoader``), re-iterated when shorter than the sweep.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``
                arrays, or an iterable of batches; evaluated every ``val_every``
                steps (default about 30 times per sweep), its first ``val_batches``
                batches (default all; an endless generator needs a number).
            step_mode: ``"linear"`` (the paper's sweep) or ``"exp"``; None picks
                linear when ``start_lr`` is 0 or ``end_lr / start_lr < 100``.
            smooth_beta, diverge_th: the recorder's EMA factor (None: about a tenth of
                the sweep, see :func:`cyclr.rangetest.default_smooth_beta`) and divergence threshold.
        """
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or not getattr(model, "compiled", False):
            raise ValueError("model must be compiled with an optimizer and a loss before the range test")
        start = check.non_negative("start_lr", start_lr)
        end = check.positive("end_lr", end_lr)
        if step_mode is None:
            step_mode = "linear" if start == 0 or end / start < 100 else "exp"
        mode = check.choice("step_mode", step_mode, STEP_MODES)
        sweep = RangeSweep(start, end, check.positive_int("num_iter", num_iter), mode)  # type: ignore[arg-type]
        size = 32 if batch_size is None else check.positive_int("batch_size", batch_size)
        every = max(1, num_iter // 30) if val_every is None else check.positive_int("val_every", val_every)
        n_val = None if val_batches is None else check.positive_int("val_batches", val_batches)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        settings = {
            "runner": "keras",
            "batch_size": size if y is not None or _is_arrays(x) else None,
            "val_every": every,
            "val_batches": n_val,
            "seed": seed,
        }
        # built (and its options checked) before any batch is drawn from a one-shot generator
        recorder = RangeTestRecorder(sweep, smooth_beta, diverge_th, settings=settings)
        batches = _training_batches(x, y, size, seed)
        first = next(batches, None)
        if first is None:
            raise ValueError(f"x must yield at least one batch, got an empty {type(x).__name__}")
        batches = itertools.chain([first], batches)
        val = None if validation_data is None else _validation_batches(validation_data, size, n_val)

        _build(model, first)
        with _restored(model):
            try:
                self._sweep(recorder, batches, val, every)
            except BaseException as exc:
                self.result = recorder.result("interrupted" if isinstance(exc, KeyboardInterrupt) else "error")
                with contextlib.suppress(AttributeError, TypeError):
                    exc.range_test_result = self.result  # type: ignore[attr-defined]
                raise
        self.result = recorder.result()
        return self.result

    def _sweep(
        self, recorder: RangeTestRecorder, batches: Iterator[Batch], val: list[Batch] | None, every: int
    ) -> None:
        model = self.model
        optimizer = _inner(model.optimizer)
        first_step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        lrs = [recorder.lr(i) for i in range(recorder.sweep.num_iter)]
        optimizer._learning_rate = _SweepLR(lrs, first_step)  # restored by _restored
        model.make_train_function(force=True)
        bar = _progress_bar(self.progress, len(lrs))
        try:
            while not recorder.done:
                batch = next(batches, None)
                if batch is None:
                    recorder.stop("exhausted")
                    return
                logs = model.train_on_batch(*batch, return_dict=True)
                bar.update(1)
                if recorder.record_loss(logs["loss"]):
                    return
                if val is not None and recorder.step % every == 0:
                    recorder.record_metrics(_evaluate(model, val))
        finally:
            bar.close()


# --- state ---------------------------------------------------------------------------


def _inner(optimizer: Any) -> Any:
    """The optimizer that owns the learning rate (a LossScaleOptimizer wraps one)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _build(model: keras.Model, batch: Batch) -> None:
    """Create the model's and optimizer's variables now, so that they can be saved before training."""
    if not model.built:
        model(batch[0])
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


@contextlib.contextmanager
def _restored(model: keras.Model) -> Iterator[None]:
    """Put back every model, optimizer and metric variable, the learning rate and the compiled step."""
    optimizer = _inner(model.optimizer)
    learning_rate = optimizer._learning_rate
    saved = [
        (v, keras.ops.convert_to_numpy(v))
        for v in itertools.chain(model.variables, model.optimizer.variables, model.metrics_variables)
    ]
    restore_rng = _save_global_rng()
    try:
        yield
    finally:
        restore_rng()
        optimizer._learning_rate = learning_rate
        model.reset_metrics()  # metrics first built during the test start from zero
        for variable, value in saved:
            variable.assign(value)
        # the compiled step baked in the sweep; the next fit must trace it again
        model.make_train_function(force=True)


def _save_global_rng() -> Callable[[], None]:
    """Save the framework RNG that unseeded random layers draw from; return its restorer.

    Only the torch backend has one: it runs unseeded dropout on torch's global
    generator. The other backends keep every seed in a variable, saved above.
    """
    if keras.backend.backend() != "torch":
        return lambda: None
    import torch

    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def restore() -> None:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)

    return restore


# --- data ----------------------------------------------------------------------------


def _is_arrays(x: Any) -> bool:
    return isinstance(x, (np.ndarray, dict, list, tuple)) or hasattr(x, "__array__")


def _num_samples(x: Any) -> int:
    leaves = keras.tree.flatten(x)
    if not leaves:
        raise ValueError("x must hold at least one array")
    sizes = {len(leaf) for leaf in leaves}
    if len(sizes) != 1:
        raise ValueError(f"every array in x and y must have the same length, got lengths {sorted(sizes)}")
    return sizes.pop()


def _array_batches(
    x: Any, y: Any, batch_size: int, rng: np.random.Generator | None, sample_weight: Any = None
) -> Iterator[Batch]:
    parts = [None if part is None else keras.tree.map_structure(np.asarray, part) for part in (x, y, sample_weight)]
    n = _num_samples([part for part in parts if part is not None])
    while n:
        order = rng.permutation(n) if rng is not None else np.arange(n)
        for begin in range(0, n, batch_size):
            index = order[begin : begin + batch_size]
            yield tuple(_rows(part, index) for part in parts)  # type: ignore[misc]
        if rng is None:
            return


def _rows(arrays: Any, index: np.ndarray) -> Any:
    return None if arrays is None else keras.tree.map_structure(lambda a: a[index], arrays)


def _iterable_batches(data: Iterable[Any], *, repeat: bool) -> Iterator[Batch]:
    """Batches of ``data`` pass after pass (one pass if not ``repeat``); ends when a pass yields nothing."""
    while True:
        got = False
        for batch in data:
            got = True
            yield keras.utils.unpack_x_y_sample_weight(batch)
        if not got or not repeat:
            return


def _training_batches(x: Any, y: Any, batch_size: int, seed: int) -> Iterator[Batch]:
    if y is not None or _is_arrays(x):
        return _array_batches(x, y, batch_size, np.random.default_rng(seed))
    if not isinstance(x, Iterable):
        raise TypeError(f"x must be arrays or an iterable of batches, got {type(x).__name__}")
    return _iterable_batches(x, repeat=True)


def _validation_batches(data: Any, batch_size: int, limit: int | None) -> list[Batch]:
    if isinstance(data, tuple) and len(data) in (2, 3) and all(_is_arrays(part) for part in data):
        batches = _array_batches(data[0], data[1], batch_size, None, data[2] if len(data) == 3 else None)
    elif isinstance(data, Iterable) and not _is_arrays(data):
        batches = _iterable_batches(data, repeat=False)
    else:
        raise TypeError(
            "validation_data must be an (x_val, y_val) tuple of arrays or an iterable of batches, "
            f"got {type(data).__name__}"
        )
    kept = list(itertools.islice(batches, limit))
    if not kept:
        raise ValueError(f"validation_data must yield at least one batch, got an empty {type(data).__name__}")
    return kept


def _evaluate(model: keras.Model, batches: list[Batch]) -> dict[str, float]:
    # Keras takes a generator (not any iterator) and no None sample weights
    generator = ((x, y) if w is None else (x, y, w) for x, y, w in batches)
    logs = model.evaluate(generator, steps=len(batches), verbose=0, return_dict=True)
    return {f"val_{name}": float(value) for name, value in logs.items()}


def _progress_bar(enabled: bool, total: int) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="range test", leave=False)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
