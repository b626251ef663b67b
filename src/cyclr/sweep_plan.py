"""Planning a range test's sweep: what every finder shares, with no framework.

A finder (``cyclr.torch.LRFinder``, ``cyclr.keras.LRFinder``) owns its training
loop and nothing else. This module decides the rest, the same way for each:

- the sweep: with ``start_lr`` given, one sweep, linear (the paper's) or
  exponential by :func:`default_step_mode`; without it the automatic two-stage
  mode - a coarse exponential sweep from :data:`COARSE_START_LR` to find where
  training diverges, then the paper's linear sweep from 0 up to
  :func:`linear_end_from_coarse`, with the validation metric;
- its length (:func:`auto_num_iter`) and how often to validate
  (:func:`default_val_every`);
- the stages in order, with the partial curve kept when a stage fails
  (:meth:`SweepPlan.run`, :func:`partial_result`) and the check that the data
  did not run out (:func:`check_not_exhausted`);
- the progress bar (:func:`progress_bar`).

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (section 3.3, the range test).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from . import _validate as check
from .rangetest import RangeTestRecorder, RangeTestResult, check_stopping
from .schedules import STEP_MODES, RangeSweep
from .suggest import NoSuggestionError, default_metric, first_peak, is_loss_like, smooth

COARSE_START_LR = 1e-7
"""Where the automatic mode's coarse exponential sweep starts: below any useful LR."""
DEFAULT_END_LR = 10.0
"""Default ``end_lr``: above the LR where common models diverge."""
AUTO_EPOCHS = 8
"""Epochs of data the automatic ``num_iter`` aims at (the paper's 8 epochs)."""
MIN_AUTO_ITER = 100
"""Fewest steps the automatic ``num_iter`` gives."""
MAX_AUTO_ITER = 1000
"""Most steps the automatic ``num_iter`` gives."""
UNSIZED_AUTO_ITER = 300
"""The automatic ``num_iter`` when the data's length is unknown."""
MIN_LINEAR_STEPS = 20
"""Fewest steps of the automatic mode's linear sweep that still make a curve to read."""
MIN_COARSE_ITER = 10
"""Fewest steps of the coarse sweep."""
MIN_METRIC_POINTS = 12
"""Fewest metric measurements the automatic mode's linear sweep should end with.

One that diverges with fewer (``val_every`` is sized for the whole sweep) is run
again up to where it diverged; the metric reading needs at least 8.
"""
ZOOM_FACTOR = 2.0
"""A second linear sweep ends at this many times the LR where the first one's metric peaked."""
ZOOM_MAX_END_FRACTION = 0.75
"""A second sweep is run only when it ends below this fraction of the first one's end."""
VALIDATIONS_PER_SWEEP = 30
"""How many times the default ``val_every`` measures the metric in one sweep."""
EXP_RATIO = 100.0
"""``end_lr / start_lr`` from which ``step_mode=None`` means an exponential sweep."""

Stage = str  # "coarse", "main" (the linear sweep after a coarse one) or "single"
_BAR_LABELS = {"coarse": "range test (coarse, exp)", "main": "range test (linear)"}


def default_step_mode(start_lr: float, end_lr: float) -> str:
    """The sweep a given range gets when ``step_mode`` is None.

    Linear (the paper's sweep) from 0 or over less than two decades; above
    that an exponential sweep, which spends its steps evenly on every decade.

    Args:
        start_lr: the first LR, >= 0.
        end_lr: the last LR, > 0.

    Returns:
        ``"linear"`` or ``"exp"``.

    Examples:
        >>> from cyclr.sweep_plan import default_step_mode
        >>> default_step_mode(0.0, 1.0), default_step_mode(0.01, 0.5), default_step_mode(1e-5, 1.0)
        ('linear', 'linear', 'exp')

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3: a linear sweep)
    """
    return "linear" if start_lr == 0 or end_lr / start_lr < EXP_RATIO else "exp"


def auto_num_iter(batches_per_epoch: int | None, accumulation_steps: int = 1) -> int:
    """Steps of a sweep when ``num_iter`` is None: 8 epochs of data, within 100..1000.

    Args:
        batches_per_epoch: batches in one pass over the training data; None when unknown.
        accumulation_steps: batches per optimizer step.

    Returns:
        :data:`AUTO_EPOCHS` epochs of optimizer steps, clipped to
        [:data:`MIN_AUTO_ITER`, :data:`MAX_AUTO_ITER`]; :data:`UNSIZED_AUTO_ITER`
        when the length is unknown.

    Examples:
        >>> from cyclr.sweep_plan import auto_num_iter
        >>> auto_num_iter(45), auto_num_iter(45, accumulation_steps=3), auto_num_iter(500), auto_num_iter(None)
        (360, 120, 1000, 300)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3: the test over a few epochs)
    """
    if batches_per_epoch is None:
        return UNSIZED_AUTO_ITER
    steps = AUTO_EPOCHS * batches_per_epoch // accumulation_steps
    return int(min(MAX_AUTO_ITER, max(MIN_AUTO_ITER, steps)))


def default_val_every(num_iter: int) -> int:
    """Steps between validations when ``val_every`` is None: about 30 per sweep.

    Args:
        num_iter: steps of the sweep.

    Returns:
        ``max(1, num_iter // 30)``.

    Examples:
        >>> from cyclr.sweep_plan import default_val_every
        >>> default_val_every(360), default_val_every(12)
        (12, 1)
    """
    return max(1, num_iter // VALIDATIONS_PER_SWEEP)


def sized_length(data: Any) -> int | None:
    """``len(data)`` when the data has one, else None (a generator, an endless stream).

    Args:
        data: the training data (a loader, a list of batches, ...).

    Returns:
        The length, or None.

    Examples:
        >>> from cyclr.sweep_plan import sized_length
        >>> sized_length([1, 2, 3]), sized_length(iter([1, 2, 3]))
        (3, None)
    """
    try:
        return len(data)
    except TypeError:
        return None


def linear_end_from_coarse(coarse: RangeTestResult, data_name: str = "train_loader") -> float:
    """Upper end of the linear sweep, read off the coarse exponential sweep.

    Twice the LR where the coarse sweep's zero-lag smoothed loss was lowest (at
    most the LR where it stopped): after a short exponential sweep that minimum
    sits near the largest LR that still trains, so the linear sweep covers the
    metric's whole rise and its fall, which the paper's reading needs.

    Args:
        coarse: the coarse sweep's result.
        data_name: what the error messages call the training data.

    Returns:
        The linear sweep's ``end_lr``.

    Raises:
        NoSuggestionError: the coarse sweep has fewer than 5 steps (the data ran
            out, or training diverged at once).

    Examples:
        >>> import numpy as np
        >>> from cyclr.rangetest import RangeTestResult
        >>> from cyclr.sweep_plan import linear_end_from_coarse
        >>> lrs = np.geomspace(1e-7, 10.0, 100)
        >>> losses = 2.0 + (np.log10(lrs) + 2.0) ** 2 / 10
        >>> round(linear_end_from_coarse(RangeTestResult(lrs, losses, losses)), 4)
        0.0205

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
    """
    if len(coarse) < 5:
        if coarse.stop_reason == "exhausted":
            raise NoSuggestionError(
                f"the coarse sweep ran out of batches after {len(coarse)} steps: {data_name} is a one-shot "
                "iterator; pass a loader that can be iterated again (a DataLoader, a list) or give start_lr"
            )
        raise NoSuggestionError(
            f"the coarse sweep diverged after {len(coarse)} steps, below lr={coarse.stop_lr!r}: "
            "the model does not train even at tiny LRs; check the model, loss and data"
        )
    best_lr = float(coarse.lrs[int(smooth(coarse.losses).argmin())])
    end = 2.0 * best_lr
    if coarse.stop_lr is not None:
        end = min(end, float(coarse.stop_lr))
    return max(end, best_lr)


def check_not_exhausted(result: RangeTestResult, drawn: int, minimum: int, data_name: str = "train_loader") -> None:
    """Refuse a sweep cut too short by a one-shot iterator running out of batches.

    Args:
        result: the sweep's result (its ``coarse`` says which sweep it was).
        drawn: batches drawn from the data over the whole test.
        minimum: fewest steps the sweep needs.
        data_name: what the error message calls the training data.

    Raises:
        NoSuggestionError: the data ran out before the sweep had ``minimum`` steps.

    Examples:
        >>> from cyclr.rangetest import RangeTestResult
        >>> from cyclr.sweep_plan import check_not_exhausted
        >>> short = RangeTestResult([0.0, 0.1], [2.0, 1.9], [2.0, 1.95], stop_reason="exhausted", stop_step=2)
        >>> check_not_exhausted(short, drawn=2, minimum=1)
        >>> check_not_exhausted(short, drawn=2, minimum=20)
        Traceback (most recent call last):
        ...
        cyclr.suggest.NoSuggestionError: train_loader was exhausted after 2 batches, leaving the sweep 2 steps (it needs 20): pass a loader that can be iterated again (a DataLoader, a list) or give start_lr
    """
    if result.stop_reason != "exhausted" or len(result) >= minimum:
        return
    sweep = "the linear sweep" if result.coarse is not None else "the sweep"
    raise NoSuggestionError(
        f"{data_name} was exhausted after {drawn} batches, leaving {sweep} {len(result)} steps "
        f"(it needs {minimum}): pass a loader that can be iterated again (a DataLoader, a list) or give start_lr"
    )


def partial_result(
    recorder: RangeTestRecorder, error: BaseException, coarse: RangeTestResult | None = None
) -> RangeTestResult:
    """The curve recorded before ``error`` stopped the test, also attached to the error.

    The stop reason is ``"interrupted"`` for a KeyboardInterrupt, else
    ``"error"``. The result is set on the exception as ``range_test_result``
    (where the exception allows attributes).

    Args:
        recorder: the recorder of the sweep that failed.
        error: the exception that stopped it.
        coarse: the coarse sweep that ran before it, if any.

    Returns:
        The partial result.

    Examples:
        >>> from cyclr import RangeSweep
        >>> from cyclr.rangetest import RangeTestRecorder
        >>> from cyclr.sweep_plan import partial_result
        >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 10, "linear"))
        >>> recorder.record_loss(2.0)
        False
        >>> error = RuntimeError("out of memory")
        >>> partial_result(recorder, error) is error.range_test_result
        True
        >>> error.range_test_result.stop_reason
        'error'
    """
    partial = recorder.result("interrupted" if isinstance(error, KeyboardInterrupt) else "error")
    partial.coarse = coarse
    with contextlib.suppress(AttributeError, TypeError):
        error.range_test_result = partial  # type: ignore[attr-defined]
    return partial


class ProgressBar(Protocol):
    """What a finder's loop calls on its progress bar (tqdm's names).

    Examples:
        >>> from cyclr.sweep_plan import progress_bar
        >>> bar = progress_bar(False, 10)
        >>> bar.update(3); bar.set_postfix(lr="0.1"); bar.close()
    """

    def update(self, n: int = 1) -> Any:
        """Advance by ``n`` steps."""

    def set_postfix(self, **kwargs: Any) -> Any:
        """Show the latest values (LR, loss) beside the bar."""

    def close(self) -> Any:
        """Remove the bar."""


class _NoBar:
    """A progress bar that shows nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, total: int, stage: Stage = "single") -> ProgressBar:
    """A tqdm bar over one sweep, or one that shows nothing.

    Args:
        enabled: show a bar (tqdm is imported only then); a distributed finder
            passes False on every process but the main one.
        total: steps of the sweep.
        stage: ``"coarse"``, ``"main"`` or ``"single"``: labels the bar.

    Returns:
        An object with ``update``, ``set_postfix`` and ``close``.

    Raises:
        ImportError: ``enabled`` and tqdm is not installed.

    Examples:
        >>> from cyclr.sweep_plan import progress_bar
        >>> bar = progress_bar(False, 100)
        >>> bar.update(10); bar.close()
    """
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=_BAR_LABELS.get(stage, "range test"), leave=False)  # type: ignore[no-any-return]


class SweepLoop(Protocol):
    """A finder's training loop, as :meth:`SweepPlan.run` drives it.

    ``cyclr.torch.LRFinder`` and ``cyclr.keras.LRFinder`` each have one; the
    example of :meth:`SweepPlan.run` has a minimal one.

    Examples:
        >>> from cyclr.sweep_plan import SweepLoop
        >>> class Loop:
        ...     batches_drawn = 0
        ...     def train(self, recorder, validate): ...
        ...     def restart(self): ...
        >>> loop: SweepLoop = Loop()
    """

    batches_drawn: int
    """Batches drawn from the training data so far, over every stage."""

    def train(self, recorder: RangeTestRecorder, validate: bool) -> None:
        """Train through ``recorder``'s sweep until it finishes or says stop; validate every ``val_every`` steps."""

    def restart(self) -> None:
        """Put the model, optimizer and RNG back as they were, and start the data again."""


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """The checked settings of one range test: which sweeps to run, and how.

    Build it with :meth:`build`, which applies the defaults; :meth:`run` runs
    its stages on a finder's loop.

    Args:
        sweep: the one sweep to run; None for the automatic two-stage mode.
        end_lr: where the coarse sweep ends (automatic mode).
        num_iter: steps of the main sweep.
        coarse_iter: steps of the coarse sweep (automatic mode).
        val_every: steps between validations.
        val_batches: validation batches kept (None: all).
        smooth_beta: the recorder's EMA factor (None: its default for the sweep's length).
        diverge_th: the recorder's divergence threshold.
        settings: the finder's own options, stored on every result.

    Examples:
        >>> from cyclr.sweep_plan import SweepPlan
        >>> plan = SweepPlan.build(batches_per_epoch=45)
        >>> plan.two_stage, plan.num_iter, plan.val_every, plan.coarse_sweep()
        (True, 360, 12, RangeSweep(start_lr=1e-07, end_lr=10.0, num_iter=100, step_mode='exp'))

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (section 3.3)
    """

    sweep: RangeSweep | None
    end_lr: float
    num_iter: int
    coarse_iter: int
    val_every: int
    val_batches: int | None
    smooth_beta: float | None
    diverge_th: float
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def two_stage(self) -> bool:
        """True in the automatic mode: a coarse exponential sweep, then a linear one.

        Examples:
            >>> from cyclr.sweep_plan import SweepPlan
            >>> SweepPlan.build().two_stage, SweepPlan.build(start_lr=0.0).two_stage
            (True, False)
        """
        return self.sweep is None

    @classmethod
    def build(
        cls,
        start_lr: float | None = None,
        end_lr: float | None = None,
        num_iter: int | None = None,
        step_mode: str | None = None,
        *,
        batches_per_epoch: int | None = None,
        accumulation_steps: int = 1,
        val_every: int | None = None,
        val_batches: int | None = None,
        smooth_beta: float | None = None,
        diverge_th: float = 5.0,
        coarse_iter: int = 100,
        settings: Mapping[str, Any] | None = None,
    ) -> SweepPlan:
        """Check a finder's ``range_test`` options and apply the defaults.

        With ``start_lr=None`` the plan is the automatic two-stage mode (a
        coarse exponential sweep from :data:`COARSE_START_LR` to ``end_lr``
        over ``coarse_iter`` steps, then a linear sweep from 0 over
        ``num_iter`` steps), unless ``step_mode="exp"``, which asks for just one
        exponential sweep from :data:`COARSE_START_LR` over ``num_iter`` steps.
        With ``start_lr`` given it is one sweep, its mode by
        :func:`default_step_mode` when ``step_mode`` is None.

        Args:
            start_lr: the first LR, >= 0; None: the automatic mode.
            end_lr: the last LR (of the coarse sweep in automatic mode), > 0;
                None: :data:`DEFAULT_END_LR`.
            num_iter: steps of the (main) sweep; None: :func:`auto_num_iter`.
            step_mode: ``"linear"``, ``"exp"`` or None (see above).
            batches_per_epoch: batches in one pass over the training data (None: unknown).
            accumulation_steps: batches per optimizer step.
            val_every: steps between validations; None: :func:`default_val_every`.
            val_batches: validation batches to keep; None: all.
            smooth_beta: the recorder's EMA factor, in [0, 1); None: its default.
            diverge_th: the recorder's divergence threshold, > 1.
            coarse_iter: steps of the coarse sweep, >= :data:`MIN_COARSE_ITER`.
            settings: the finder's own options, stored on every result.

        Returns:
            The plan.

        Raises:
            ValueError: an option is out of range, or ``end_lr`` is not above
                the automatic sweep's start.
            TypeError: an option has the wrong type.

        Examples:
            >>> from cyclr.sweep_plan import SweepPlan
            >>> SweepPlan.build(start_lr=0.0, end_lr=0.5, num_iter=40).sweep
            RangeSweep(start_lr=0.0, end_lr=0.5, num_iter=40, step_mode='linear')
            >>> SweepPlan.build(start_lr=-1.0)
            Traceback (most recent call last):
            ...
            ValueError: start_lr must be >= 0, got start_lr=-1.0
        """
        end = DEFAULT_END_LR if end_lr is None else check.positive("end_lr", end_lr)
        accumulation = check.positive_int("accumulation_steps", accumulation_steps)
        if num_iter is None:
            iters = auto_num_iter(batches_per_epoch, accumulation)
        else:
            iters = check.positive_int("num_iter", num_iter)
        if step_mode is not None:
            check.choice("step_mode", step_mode, STEP_MODES)
        sweep = _single_sweep(start_lr, end, end_lr, iters, step_mode)
        every = default_val_every(iters) if val_every is None else check.positive_int("val_every", val_every)
        n_val = None if val_batches is None else check.positive_int("val_batches", val_batches)
        beta, threshold = check_stopping(smooth_beta, diverge_th)
        coarse = check.positive_int("coarse_iter", coarse_iter)
        if coarse < MIN_COARSE_ITER:
            raise ValueError(f"coarse_iter must be >= {MIN_COARSE_ITER}, got coarse_iter={coarse_iter!r}")
        return cls(sweep=sweep, end_lr=end, num_iter=iters, coarse_iter=coarse, val_every=every,
                   val_batches=n_val, smooth_beta=beta, diverge_th=threshold, settings=dict(settings or {}))

    def coarse_sweep(self) -> RangeSweep:
        """The automatic mode's first sweep: exponential from :data:`COARSE_START_LR` to ``end_lr``.

        Returns:
            The sweep, ``coarse_iter`` steps long.

        Examples:
            >>> from cyclr.sweep_plan import SweepPlan
            >>> SweepPlan.build(end_lr=1.0, coarse_iter=50).coarse_sweep().num_iter
            50
        """
        return RangeSweep(COARSE_START_LR, self.end_lr, self.coarse_iter, "exp")

    def linear_sweep(self, coarse: RangeTestResult, data_name: str = "train_loader") -> RangeSweep:
        """The automatic mode's second sweep: linear from 0 to :func:`linear_end_from_coarse`.

        Args:
            coarse: the coarse sweep's result.
            data_name: what the error messages call the training data.

        Returns:
            The sweep, ``num_iter`` steps long.

        Raises:
            NoSuggestionError: the coarse sweep is too short to read.

        Examples:
            >>> import numpy as np
            >>> from cyclr.rangetest import RangeTestResult
            >>> from cyclr.sweep_plan import SweepPlan
            >>> lrs = np.geomspace(1e-7, 10.0, 100)
            >>> losses = 2.0 + (np.log10(lrs) + 2.0) ** 2 / 10
            >>> SweepPlan.build(num_iter=200).linear_sweep(RangeTestResult(lrs, losses, losses))  # doctest: +ELLIPSIS
            RangeSweep(start_lr=0.0, end_lr=0.02047..., num_iter=200, step_mode='linear')
        """
        return RangeSweep(0.0, linear_end_from_coarse(coarse, data_name), self.num_iter, "linear")

    def recorder(self, sweep: RangeSweep, stage: Stage, **settings: Any) -> RangeTestRecorder:
        """A recorder for one stage, with the plan's stopping rule and settings.

        Args:
            sweep: the stage's sweep.
            stage: ``"coarse"``, ``"main"`` or ``"single"``, stored in the settings.
            **settings: more settings to store (e.g. the parameter-group ratios).

        Returns:
            The recorder.

        Examples:
            >>> from cyclr.sweep_plan import SweepPlan
            >>> plan = SweepPlan.build(start_lr=0.0, end_lr=1.0, num_iter=30, settings={"runner": "mine"})
            >>> plan.recorder(plan.sweep, "single").result().settings["runner"]
            'mine'
        """
        stored = {"val_every": self.val_every, "val_batches": self.val_batches, **self.settings, **settings,
                  "stage": stage}
        return RangeTestRecorder(sweep, self.smooth_beta, self.diverge_th, settings=stored)

    def run(
        self,
        loop: SweepLoop,
        publish: Callable[[RangeTestResult], None],
        *,
        validate: bool,
        data_name: str = "train_loader",
        **settings: Any,
    ) -> RangeTestResult:
        """Run the plan's stages on a finder's loop; return the main sweep's result.

        In automatic mode: the coarse sweep without validation, ``loop.restart()``,
        then the linear sweep (its result carries the coarse one as ``coarse``).
        When that linear sweep, validated, read its usable part from too few
        measurements, it runs once more from 0, finer (:func:`second_sweep_end`
        says when and how far): up to the LR where it diverged, or up to
        :data:`ZOOM_FACTOR` times the LR where the metric peaked. The second
        sweep's settings keep ``first_linear_end``,
        ``first_linear_metric_points`` and ``second_sweep`` (the reason). At
        most two linear sweeps are run, so the test costs at most twice the
        one-sweep test. Otherwise the one sweep. Each result is handed to ``publish`` as soon as
        it exists (the finder keeps it as ``finder.result``); when a stage
        raises, its partial curve is published and attached to the exception
        (:func:`partial_result`) before the exception goes on.

        Args:
            loop: the finder's training loop.
            publish: called with every result, partial ones included.
            validate: measure the validation metrics during the main sweep.
            data_name: what the error messages call the training data.
            **settings: more settings to store on each result.

        Returns:
            The result of the main (or only) sweep.

        Raises:
            NoSuggestionError: the coarse sweep is too short to read, or the data
                ran out before the sweep had enough steps (:func:`check_not_exhausted`).

        Examples:
            >>> from cyclr.sweep_plan import SweepPlan
            >>> class Loop:  # trains nothing: every step's loss is 1.0
            ...     batches_drawn = 0
            ...     def train(self, recorder, validate):
            ...         while not recorder.done:
            ...             recorder.record_loss(1.0)
            ...             self.batches_drawn += 1
            ...     def restart(self):
            ...         pass
            >>> result = SweepPlan.build(coarse_iter=20, num_iter=30).run(Loop(), print, validate=False)
            RangeTestResult(20 steps, lr 1e-07..10, stop_reason='finished', metrics=[])
            RangeTestResult(30 steps, lr 0..2e-07, stop_reason='finished', metrics=[])
            >>> len(result.coarse)
            20
        """
        recorder: RangeTestRecorder | None = None
        coarse: RangeTestResult | None = None  # the coarse sweep before ``recorder``'s, if any
        try:
            if self.sweep is None:
                recorder = self.recorder(self.coarse_sweep(), "coarse", **settings)
                loop.train(recorder, False)
                first = recorder.result()
                publish(first)
                loop.restart()
                recorder, coarse = self.recorder(self.linear_sweep(first, data_name), "main", **settings), first
            else:
                recorder = self.recorder(self.sweep, "single", **settings)
            loop.train(recorder, validate)
            result = recorder.result()
            second = second_sweep_end(result) if coarse is not None and validate else None
            if second is not None:
                publish(result)
                first_end = recorder.sweep.end_lr
                loop.restart()
                sweep = RangeSweep(0.0, second[0], self.num_iter, "linear")
                recorder = self.recorder(sweep, "main", **settings, first_linear_end=first_end,
                                         first_linear_metric_points=len(result.metric_steps),
                                         second_sweep=second[1])
                loop.train(recorder, validate)
                result = recorder.result()
            result.coarse = coarse
            publish(result)
            check_not_exhausted(result, loop.batches_drawn, 1 if coarse is None else MIN_LINEAR_STEPS, data_name)
            return result
        except BaseException as exc:
            if recorder is not None:
                publish(partial_result(recorder, exc, coarse))
            raise


def second_sweep_end(result: RangeTestResult) -> tuple[float, str] | None:
    """Where a finer second linear sweep should end, when the first read its usable part too coarsely.

    A linear sweep's usable part - from 0 to where the metric tops its first
    rise (:func:`cyclr.suggest.first_peak`) - is often a small fraction of it:
    the end taken from the coarse sweep sits near where training diverges,
    and the metric turns ragged long before that. Read from a handful of
    points, the rise's knee is a guess. So:

    - the sweep diverged with fewer than :data:`MIN_METRIC_POINTS`
      measurements: sweep again up to the LR where it diverged (``"diverged"``);
    - the metric peaked within its first :data:`MIN_METRIC_POINTS`
      measurements: sweep again up to :data:`ZOOM_FACTOR` times the peak's LR
      (``"zoom"``), when that is below :data:`ZOOM_MAX_END_FRACTION` of the
      first sweep's end.

    The second sweep has as many steps and measurements as the first, so its
    LR rises more slowly and the usable part is read from several times more
    points.

    Args:
        result: the first linear sweep's result, with its metrics.

    Returns:
        ``(end_lr, reason)``, or None when the first sweep is read from enough points.

    Examples:
        >>> import numpy as np
        >>> from cyclr import RangeSweep
        >>> from cyclr.rangetest import RangeTestRecorder
        >>> from cyclr.sweep_plan import second_sweep_end
        >>> recorder = RangeTestRecorder(RangeSweep(0.0, 1.0, 300, "linear"))
        >>> for step in range(300):
        ...     _ = recorder.record_loss(1.0)
        ...     if step % 10 == 9:  # accuracy peaks at lr 0.14, then falls
        ...         lr = recorder.lr(step)
        ...         recorder.record_metrics({"val_accuracy": min(0.9, 0.1 + 8 * lr) - 2 * max(0.0, lr - 0.14)})
        >>> end, reason = second_sweep_end(recorder.result())
        >>> round(end, 2), reason
        (0.26, 'zoom')
    """
    if result.sweep is None:
        return None
    stopped = result.stop_reason in ("diverged", "non_finite")
    if stopped and (result.stop_lr is None or result.stop_lr <= 0):
        return None
    if stopped and len(result.metric_steps) < MIN_METRIC_POINTS:
        return float(result.stop_lr), "diverged"  # type: ignore[arg-type]
    name = default_metric(result.metrics)
    if name is None:
        return None
    peak = first_peak(result.metric_lrs, result.metrics[name], higher_is_better=not is_loss_like(name))
    if peak is None or peak[1] >= MIN_METRIC_POINTS:
        return None
    end = ZOOM_FACTOR * peak[0]
    if not 0 < end < ZOOM_MAX_END_FRACTION * float(result.lrs[-1]):
        return None
    return end, "zoom"


def _single_sweep(
    start_lr: float | None, end: float, end_lr: float | None, num_iter: int, step_mode: str | None
) -> RangeSweep | None:
    """The one sweep to run, or None for the automatic two-stage mode."""
    if start_lr is None:
        if end <= COARSE_START_LR:
            raise ValueError(f"end_lr must be > {COARSE_START_LR} (the automatic sweep's start), got end_lr={end_lr!r}")
        return RangeSweep(COARSE_START_LR, end, num_iter, "exp") if step_mode == "exp" else None
    start = check.non_negative("start_lr", start_lr)
    mode = default_step_mode(start, end) if step_mode is None else step_mode
    return RangeSweep(start, end, num_iter, mode)  # type: ignore[arg-type]


__all__ = [
    "AUTO_EPOCHS",
    "COARSE_START_LR",
    "DEFAULT_END_LR",
    "EXP_RATIO",
    "MAX_AUTO_ITER",
    "MIN_AUTO_ITER",
    "MIN_COARSE_ITER",
    "MIN_LINEAR_STEPS",
    "MIN_METRIC_POINTS",
    "ProgressBar",
    "SweepLoop",
    "SweepPlan",
    "UNSIZED_AUTO_ITER",
    "VALIDATIONS_PER_SWEEP",
    "ZOOM_FACTOR",
    "ZOOM_MAX_END_FRACTION",
    "auto_num_iter",
    "check_not_exhausted",
    "default_step_mode",
    "default_val_every",
    "linear_end_from_coarse",
    "partial_result",
    "progress_bar",
    "second_sweep_end",
    "sized_length",
]
