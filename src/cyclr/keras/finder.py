"""``cyclr.keras.LRFinder``: the LR range test on a compiled Keras 3 model, any backend.

This module is the training loop only; the sweep (the automatic two-stage
mode, the defaults, the checks) is planned by :mod:`cyclr.sweep_plan`, the
same way as for ``cyclr.torch.LRFinder``. Each step is one
``model.train_on_batch`` at the sweep's next LR; the loss goes to a
:class:`~cyclr.rangetest.RangeTestRecorder`, which decides when to stop. The
sweep reaches the optimizer as a temporary ``LearningRateSchedule`` indexed by
the optimizer's ``iterations``, so it also works where the train step is
compiled (jax, tensorflow) and whatever learning rate the optimizer had. The
model's variables (random seeds included), the optimizer's variables and
learning rate, the metric states and, on the torch backend, torch's global RNG
are put back afterwards (and between the two sweeps of the automatic mode),
also when the test raises.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (section 3.3, the range test).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import keras
import numpy as np

from .. import _validate as check
from ..rangetest import RangeTestRecorder, RangeTestResult
from ..sweep_plan import SweepPlan, progress_bar, sized_length
from ._optimizer import inner_optimizer

Batch = tuple[Any, Any, Any]  # (x, y, sample_weight)
DEFAULT_BATCH_SIZE = 32


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

    Raises:
        TypeError: ``model`` is not a ``keras.Model`` or ``progress`` not a bool.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from cyclr.keras import LRFinder
        >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int64")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> model.compile(optimizer=keras.optimizers.SGD(0.01), metrics=["accuracy"],
        ...               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> finder = LRFinder(model, progress=False)
        >>> result = finder.range_test(x, y, validation_data=(x, y), start_lr=0.0, end_lr=0.5, num_iter=12,
        ...                            batch_size=16, val_every=4)
        >>> len(result), sorted(result.metrics)
        (12, ['val_accuracy', 'val_loss'])

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
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
        start_lr: float | None = None,
        end_lr: float | None = None,
        num_iter: int | None = None,
        step_mode: str | None = None,
        batch_size: int | None = None,
        *,
        val_every: int | None = None,
        val_batches: int | None = None,
        smooth_beta: float | None = None,
        diverge_th: float = 5.0,
        coarse_iter: int = 100,
        seed: int = 0,
    ) -> RangeTestResult:
        """Train while the LR rises; return the curve. The model is restored afterwards.

        The sweep is planned as for ``cyclr.torch.LRFinder``
        (:class:`cyclr.sweep_plan.SweepPlan`). With ``start_lr=None`` (the
        default, for when the LR scale is unknown) it runs two sweeps from the
        same starting state: a coarse exponential one from 1e-7 to ``end_lr``
        (default 10) over ``coarse_iter`` steps, stopped where training
        diverges, then the paper's linear sweep from 0 up to that point with
        the validation metrics. ``step_mode="exp"`` without ``start_lr`` runs
        just one exponential sweep from 1e-7 over ``num_iter`` steps. With
        ``start_lr`` given it runs one sweep; ``step_mode=None`` then means
        linear when ``end_lr / start_lr < 100`` (the paper's sweep), else exponential.

        Args:
            x: training data as for ``model.fit``: arrays (or nested structures
                of arrays) with ``y``, cut into batches of ``batch_size`` and
                reshuffled every pass with ``seed``; or, with ``y=None``, any
                iterable of batches (``(x, y)`` or ``(x, y, sample_weight)``: a
                generator, ``keras.utils.PyDataset``, ``tf.data.Dataset``, torch
                ``DataLoader``), re-iterated when shorter than the sweep.
            y: the targets when ``x`` holds arrays.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``
                arrays, or an iterable of batches; evaluated every ``val_every`` steps.
            start_lr: the first LR of a single sweep; None: the automatic mode.
            end_lr: the last LR (of the coarse sweep in automatic mode); None: 10.
            num_iter: steps of the (main) sweep; default 8 epochs of ``x``,
                within 100..1000 (300 when its length is unknown).
            step_mode: ``"linear"``, ``"exp"`` or None (see above).
            batch_size: rows per batch of array data; default 32.
            val_every: steps between validations; default about 30 per sweep.
            val_batches: validation batches kept; None: all (an endless generator needs a number).
            smooth_beta: the recorder's EMA factor; None: about a tenth of the
                sweep, see :func:`cyclr.rangetest.default_smooth_beta`.
            diverge_th: stop when the loss's EMA exceeds this many times its minimum.
            coarse_iter: steps of the coarse exponential sweep (automatic mode only).
            seed: the shuffling seed for array data.

        Returns:
            The :class:`~cyclr.rangetest.RangeTestResult`; in automatic mode the
            coarse sweep is its ``coarse``.

        Raises:
            TypeError: ``x`` or ``validation_data`` is neither arrays nor an
                iterable of batches, or an option has the wrong type.
            ValueError: the model is not compiled, an option is out of range, or
                the data is empty.
            NoSuggestionError: in automatic mode, the coarse sweep is too short
                to read, or the data ran out before the linear sweep had 20 steps.

        Examples:
            >>> import keras
            >>> import numpy as np
            >>> from cyclr.keras import LRFinder
            >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
            >>> y = (x[:, 0] > 0).astype("int64")
            >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
            >>> model.compile(optimizer=keras.optimizers.SGD(0.01), metrics=["accuracy"],
            ...               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            >>> result = LRFinder(model, progress=False).range_test(
            ...     x, y, validation_data=(x, y), num_iter=10, coarse_iter=10, val_every=5, batch_size=32)
            >>> result.coarse.sweep.step_mode, result.sweep.step_mode, result.metric_steps.tolist()
            ('exp', 'linear', [4, 9])

        References:
            Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
            https://arxiv.org/abs/1506.01186 (section 3.3)
        """
        model = self.model
        if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
            raise ValueError("model must be compiled with an optimizer and a loss before the range test")
        size = DEFAULT_BATCH_SIZE if batch_size is None else check.positive_int("batch_size", batch_size)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        arrays = y is not None or _is_arrays(x)
        plan = SweepPlan.build(
            start_lr, end_lr, num_iter, step_mode, batches_per_epoch=_batches_per_epoch(x, y, size, arrays),
            val_every=val_every, val_batches=val_batches, smooth_beta=smooth_beta, diverge_th=diverge_th,
            coarse_iter=coarse_iter, settings={"runner": "keras", "batch_size": size if arrays else None, "seed": seed},
        )
        # the options are checked (the plan built) before any batch is drawn from a one-shot generator
        batches = _training_batches(x, y, size, seed)
        first = next(batches, None)
        if first is None:
            raise ValueError(f"x must yield at least one batch, got an empty {type(x).__name__}")
        val = None if validation_data is None else _validation_batches(validation_data, size, plan.val_batches)
        _build(model, first)
        state = _SavedState(model)
        loop = _Loop(self, itertools.chain([first], batches), lambda: _training_batches(x, y, size, seed), val,
                     plan.val_every, state)
        try:
            return plan.run(loop, self._keep, validate=val is not None, data_name="x")
        finally:
            state.restore()

    def _keep(self, result: RangeTestResult) -> None:
        self.result = result


class _Loop:
    """The training loop of one range_test call: what :meth:`SweepPlan.run` drives."""

    def __init__(
        self,
        finder: LRFinder,
        batches: Iterator[Batch],
        fresh_batches: Callable[[], Iterator[Batch]],
        val: list[Batch] | None,
        val_every: int,
        state: _SavedState,
    ) -> None:
        self.finder = finder
        self.batches = batches
        self.fresh_batches = fresh_batches
        self.val = val
        self.val_every = val_every
        self.state = state
        self.batches_drawn = 0

    def train(self, recorder: RangeTestRecorder, validate: bool) -> None:
        """Train through ``recorder``'s sweep until it finishes or says stop."""
        model = self.finder.model
        optimizer = inner_optimizer(model.optimizer)
        first_step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        lrs = [recorder.lr(i) for i in range(recorder.sweep.num_iter)]
        optimizer._learning_rate = _SweepLR(lrs, first_step)  # put back by _SavedState.restore
        model.make_train_function(force=True)
        bar = progress_bar(self.finder.progress, len(lrs), recorder.settings.get("stage", ""))
        try:
            while not recorder.done:
                batch = next(self.batches, None)
                if batch is None:
                    recorder.stop("exhausted")
                    return
                self.batches_drawn += 1
                logs = model.train_on_batch(*batch, return_dict=True)
                bar.update(1)
                if recorder.record_loss(logs["loss"]):
                    return
                if validate and self.val is not None and recorder.step % self.val_every == 0:
                    recorder.record_metrics(_evaluate(model, self.val))
        finally:
            bar.close()

    def restart(self) -> None:
        """Back to the saved state, with the training data from its start (the linear sweep after the coarse one)."""
        self.state.restore()
        self.batches = self.fresh_batches()


# --- state ---------------------------------------------------------------------------


def _build(model: keras.Model, batch: Batch) -> None:
    """Create the model's and optimizer's variables now, so that they can be saved before training."""
    if not model.built:
        model(batch[0])
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


class _SavedState:
    """Every model, optimizer and metric variable, the learning rate and the framework RNG, saved now."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.optimizer = inner_optimizer(model.optimizer)
        self.learning_rate = self.optimizer._learning_rate
        variables = itertools.chain(model.variables, model.optimizer.variables, model.metrics_variables)
        self.values = [(v, np.array(keras.ops.convert_to_numpy(v), copy=True)) for v in variables]
        self.restore_rng = _save_global_rng()

    def restore(self) -> None:
        """Put everything back; can run again."""
        self.restore_rng()
        self.optimizer._learning_rate = self.learning_rate
        self.model.reset_metrics()  # metrics first built during the test start from zero
        for variable, value in self.values:
            variable.assign(value)
        # the compiled step baked in the sweep; the next fit must trace it again
        self.model.make_train_function(force=True)


def _save_global_rng() -> Callable[[], None]:
    """Save the framework RNG that unseeded random layers draw from; return its restorer.

    Only the torch backend has one: it runs unseeded dropout on torch's global
    generator. The other backends keep every seed in a variable, saved above.
    """
    if keras.backend.backend() != "torch":
        return lambda: None
    from ..torch._state import RngState

    return RngState().restore


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


def _batches_per_epoch(x: Any, y: Any, batch_size: int, arrays: bool) -> int | None:
    """Batches in one pass over the training data; None when unknown."""
    if arrays:
        return math.ceil(_num_samples([part for part in (x, y) if part is not None]) / batch_size)
    return sized_length(x)


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
