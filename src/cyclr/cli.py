"""The ``cyclr`` command: ``plot``, ``find`` and ``reproduce``.

- ``cyclr plot`` draws cyclical LR schedules to an image, before training
  (:func:`cyclr.plot.plot_schedules`).
- ``cyclr find`` runs the LR range test on a bundled task or on the user's
  ``module:function`` factories, prints the suggested bounds and step size, and
  writes the curve and its figure (:mod:`cyclr.reproduce.find`).
- ``cyclr reproduce`` runs the paper's Table-1 experiment on a bundled task and
  writes its report (:mod:`cyclr.reproduce`).

The module is glue: it parses arguments, checks them before any work, and
turns errors into exit statuses. Each subcommand is an ``add_<name>_parser(subparsers)`` that registers its
arguments and sets ``handler`` to a ``run_<name>(args) -> int`` function.

Exit status: 0 on success; 2 for a bad argument, always found before any
training and reported in one line (``cyclr CMD: error: ...``); 1 when the work
itself fails (the range test gives no bounds, a user's factory raises, a file
cannot be written), also in one line (``cyclr CMD: ...``); 130 on Ctrl-C.
Output folders are created (and checked to be writable) before the work
starts, and their files are written atomically.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .schedules import MODES, SHAPES, CyclicSchedule

# Iterations past this lose integer precision in float64 arithmetic.
MAX_PLOT_ITERATIONS = 10**15


class UsageError(Exception):
    """A bad argument value found after parsing; reported like an argparse error (exit 2).

    Examples:
        >>> run_find(build_parser().parse_args(["find", "--model", "pkg.mod:make_model"]))
        Traceback (most recent call last):
        ...
        cyclr.cli.UsageError: --model and --data must be given together
    """


class RunError(Exception):
    """The work failed (not the arguments); reported in one line, exit 1.

    Examples:
        >>> str(RunError("cannot write 'out/report.md': No space left on device"))
        "cannot write 'out/report.md': No space left on device"
    """


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _flags(message: str, names: Sequence[str]) -> str:
    """A library message in CLI terms: ``epochs_per_step must ...`` becomes ``--epochs-per-step must ...``."""
    import re

    for name in names:
        flag = "--" + name.replace("_", "-")
        message = re.sub(rf"(?<![\w-]){name}(?= must|=| =)", flag, message)
    return message


def add_plot_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``cyclr plot``'s arguments on ``subparsers``, with :func:`run_plot` as its handler.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers`` returned.

    Examples:
        >>> args = build_parser().parse_args(["plot", "--base-lr", "0.001", "--max-lr", "0.006"])
        >>> args.handler is run_plot
        True
    """
    parser = subparsers.add_parser(
        "plot",
        help="draw a CLR schedule (or several, to compare) to a PNG",
        description="Preview cyclical LR schedules before training. Several --mode or --shape values "
        "draw one panel per combination, e.g. --mode triangular triangular2 exp_range.",
    )
    parser.add_argument("--mode", nargs="+", choices=MODES, default=["triangular"], help="policy (one or more)")
    parser.add_argument("--shape", nargs="+", choices=SHAPES, default=["triangular"], help="wave (one or more)")
    parser.add_argument("--base-lr", type=float, required=True)
    parser.add_argument("--max-lr", type=float, required=True)
    parser.add_argument("--step-size", type=_whole, default=2000, help="iterations of the rising half-cycle")
    parser.add_argument("--step-size-down", type=_whole, default=None, help="falling half (default: symmetric)")
    parser.add_argument("--gamma", type=float, default=0.99994, help="decay of exp_range (default: 0.99994)")
    parser.add_argument("--iterations", type=_whole, default=None, help="how many to draw (default: 5 cycles)")
    parser.add_argument("--momentum", nargs=2, type=float, metavar=("BASE", "MAX"),
                        help="also draw momentum, cycled from MAX down to BASE (0 <= BASE <= MAX <= 1)")
    parser.add_argument("--log", action="store_true", help="logarithmic LR axis")
    parser.add_argument("-o", "--output", type=Path, default=Path("cyclr-schedule.png"),
                        help="image to write; the extension picks the format (.png, .pdf, .svg, ...); "
                        "an existing file is replaced")
    parser.set_defaults(handler=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    """``cyclr plot``: draw one panel per ``--mode`` and ``--shape`` combination to ``--output``.

    Args:
        args: the parsed command line.

    Returns:
        0; the path written is printed.

    Raises:
        UsageError: a bad value (an unknown image format, a bad schedule, too many iterations).
        RunError: the image cannot be written.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     args = build_parser().parse_args(["plot", "--base-lr", "0.001", "--max-lr", "0.006",
        ...                                       "--step-size", "20", "-o", f"{folder}/lr.png"])
        ...     run_plot(args)  # doctest: +ELLIPSIS
        wrote .../lr.png
        0
    """
    from ._io import figure_format, save_figure
    from .plot import plot_schedules

    try:
        figure_format(args.output)
    except ValueError as err:
        raise UsageError(f"-o/--{err}") from None
    if args.output.is_dir():
        raise UsageError(f"-o/--output must be a file, got a folder: {str(args.output)!r}")
    momentum = _plot_momentum(args.momentum)
    try:
        schedules = {
            f"{mode}" + ("" if shape == "triangular" else f" ({shape} wave)"): CyclicSchedule(
                base_lr=args.base_lr,
                max_lr=args.max_lr,
                step_size_up=args.step_size,
                step_size_down=args.step_size_down,
                mode=mode,
                gamma=args.gamma if mode == "exp_range" else 1.0,
                shape=shape,
            )
            for mode in dict.fromkeys(args.mode)
            for shape in dict.fromkeys(args.shape)
        }
    except (TypeError, ValueError) as err:
        raise UsageError(str(err).replace("_", "-").replace("step-size-up", "step-size")) from None
    first = next(iter(schedules.values()))
    iterations = args.iterations if args.iterations is not None else _default_iterations(first.total_size)
    if iterations < 1:
        raise UsageError(f"--iterations must be >= 1, got {iterations}")
    if iterations > MAX_PLOT_ITERATIONS:
        raise UsageError(f"--iterations must be <= {MAX_PLOT_ITERATIONS:.0e}, got {iterations:.3g}"
                         + (" (5 cycles of --step-size)" if args.iterations is None else ""))
    title = f"cyclical learning rate, base_lr={args.base_lr:g}, max_lr={args.max_lr:g}"
    fig = plot_schedules(schedules, iterations, momentum=momentum, log_y=args.log, title=title)
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        written = save_figure(fig, args.output, dpi=120)
    except OSError as err:
        raise RunError(f"cannot write {str(args.output)!r}: {err.strerror or err}") from None
    print(f"wrote {written}")
    return 0


def _plot_momentum(values: Sequence[float] | None) -> tuple[float, float] | None:
    """``--momentum BASE MAX`` checked here: a preview of a setting nobody would train with is a typo."""
    if values is None:
        return None
    base, peak = values
    if not 0 <= base <= peak <= 1:
        raise UsageError(f"--momentum BASE MAX must satisfy 0 <= BASE <= MAX <= 1, got BASE={base:g}, MAX={peak:g}")
    return base, peak


def _default_iterations(cycle: float) -> float | int:
    total = 5 * cycle
    return int(total) if total <= MAX_PLOT_ITERATIONS else total


def _whole(text: str) -> int:
    """A whole number, also written as a float (``1e6``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    return int(value)


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def _fresh_folder(name: str) -> Path:
    """Create ``name`` in the current directory, or ``name-2``, ``name-3``, ... if it is taken; return it."""
    from ._io import fresh_folder

    try:
        return fresh_folder(name)
    except OSError as err:
        raise UsageError(f"cannot create an output folder {name!r} here ({err.strerror or err}); give --out") from None


@contextlib.contextmanager
def _output_folder(out: Path | None, default_name: str, force: bool) -> Iterator[Path]:
    """The output folder, created and checked to be writable now, before the work.

    With ``out=None`` a fresh folder is created atomically, so runs started
    together never share one. A folder created here is removed again if the
    work fails before writing anything into it.
    """
    from ._io import check_writable, prepare_output_folder

    if out is None:
        folder, created = _fresh_folder(default_name), True
        try:
            check_writable(folder)
        except ValueError as err:
            _remove_if_empty(folder)
            raise UsageError(f"--{err}") from None
    else:
        created = not out.exists()
        try:
            folder = prepare_output_folder(out, force=force)
        except ValueError as err:
            if created:
                _remove_if_empty(out)
            raise UsageError(f"--{err}") from None
    try:
        yield folder
    except BaseException:
        if created:
            _remove_if_empty(folder)
        raise


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _loss_spec(text: str) -> str:
    """A ``--loss`` value: a loss name, or a ``module:function`` factory (checked when loaded)."""
    from .reproduce.find import LOSSES

    if ":" in text or text in LOSSES:
        return text
    raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOSSES)} or a 'package.module:function' factory, "
                                     f"got {text!r}")


def _add_user_options(parser: argparse.ArgumentParser, momentum_help: str) -> None:
    """The options of ``find`` and ``reproduce`` for the user's own model: factories, optimizer, loss, bounds."""
    from .reproduce.find import OPTIMIZERS

    parser.add_argument("--model", default=None, metavar="MODULE:FUNCTION",
                        help="factory returning an nn.Module; MODULE may be a .py file in the current folder")
    parser.add_argument("--data", default=None, metavar="MODULE:FUNCTION",
                        help="factory returning train, (train, val) or (train, val, test): loaders or lists of "
                        "(inputs, targets) batches")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                        help="optimizer for --model (default: sgd)")
    parser.add_argument("--momentum", type=_finite_float, default=None, help=momentum_help)
    parser.add_argument("--weight-decay", type=_finite_float, default=None,
                        help="weight decay for --model, >= 0 (default: 0; adamw: 0.01; a --task uses its own)")
    parser.add_argument("--loss", type=_loss_spec, default=None, metavar="NAME|MODULE:FUNCTION",
                        help="loss for --model: cross_entropy (default), nll, mse, l1, smooth_l1, huber, bce, "
                        "bce_logits, or a factory returning a criterion")
    parser.add_argument("--step-fn", default=None, metavar="MODULE:FUNCTION",
                        help="step_fn(model, batch) -> loss for --model, for batches that are not (inputs, targets)")
    parser.add_argument("--bounds", nargs=2, type=_finite_float, default=None, metavar=("BASE", "MAX"),
                        help="use these CLR bounds instead of running the range test")


def _check_user_options(args: argparse.Namespace) -> None:
    """The combinations and ranges of :func:`_add_user_options`' options, before anything is loaded."""
    from .reproduce.find import OptimizerChoice

    if (args.model is None) != (args.data is None):
        raise UsageError("--model and --data must be given together")
    if args.model is not None and args.task is not None:
        raise UsageError("give either --task or --model/--data, not both")
    if args.model is None:
        options = (("--optimizer", args.optimizer), ("--momentum", args.momentum),
                   ("--weight-decay", args.weight_decay), ("--loss", args.loss), ("--step-fn", args.step_fn))
        given = [flag for flag, value in options if value is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise UsageError(f"{' and '.join(given)} {verb} to --model only; a bundled task trains with its own")
    if args.loss is not None and args.step_fn is not None:
        raise UsageError("give either --loss or --step-fn, not both: the step_fn computes the loss")
    try:
        OptimizerChoice(args.optimizer or "sgd", args.momentum, args.weight_decay)
    except ValueError as err:
        raise UsageError(_flags(str(err), ("momentum", "weight_decay"))) from None
    if args.bounds is not None:
        base, peak = args.bounds
        if not 0 < base < peak:
            raise UsageError(f"--bounds BASE MAX must satisfy 0 < BASE < MAX, got BASE={base:g}, MAX={peak:g}")


def _user_subject_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments that pass the optimizer, loss and step_fn options on."""
    return {"optimizer": args.optimizer or "sgd", "loss": args.loss, "step_fn": args.step_fn}


def add_find_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``cyclr find``'s arguments on ``subparsers``, with :func:`run_find` as its handler.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers`` returned.

    Examples:
        >>> args = build_parser().parse_args(["find", "--task", "digits"])
        >>> args.handler is run_find
        True
    """
    parser = subparsers.add_parser(
        "find",
        help="run the LR range test and print the suggested CLR bounds",
        description="LR range test (cyclr.torch.LRFinder) on a bundled task (--task) or on your own code "
        "(--model pkg.mod:make_model --data pkg.mod:make_loaders, where make_loaders() returns train_loader or "
        "(train_loader, val_loader); modules in the current folder are found). Prints base_lr, max_lr and the "
        "recommended step size; writes the curve (range_test.json, range_test.csv) and range_test.png with the "
        "bounds marked. With --bounds it runs no test and prints the step size and the CyclicLR line.",
    )
    parser.add_argument("--task", default=None, help="bundled task: digits (default) or mnist")
    _add_user_options(parser, "momentum for --model, in [0, 1]; beta1 for adam/adamw (default: 0.9; rmsprop: 0; "
                      "a --task uses its own)")
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help="length of the linear sweep in epochs (default: the task's, or 8 for --data)")
    parser.add_argument(
        "--num-iter", type=_positive_int, default=None, help="length in iterations (overrides --epochs)"
    )
    parser.add_argument("--start-lr", type=_finite_float, default=None,
                        help="first LR (default: automatic two-stage sweep)")
    parser.add_argument("--end-lr", type=_positive_float, default=None, help="last LR (default: automatic)")
    parser.add_argument("--step-mode", choices=("linear", "exp"), default=None, help="LR ramp (default: linear; exp when --end-lr / --start-lr >= 100)")
    parser.add_argument("--epochs-per-step", type=_positive_float, default=4.0,
                        help="half-cycle length for the recommended step size (default: 4)")
    clipping = parser.add_mutually_exclusive_group()
    clipping.add_argument("--max-grad-norm", type=_positive_float, default=None, metavar="NORM",
                          help="clip the gradients' total 2-norm to NORM before each step, as your training loop "
                          "does (torch.nn.utils.clip_grad_norm_)")
    clipping.add_argument("--max-grad-value", type=_positive_float, default=None, metavar="VALUE",
                          help="clip each gradient element to [-VALUE, VALUE] before each step "
                          "(torch.nn.utils.clip_grad_value_)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a bundled task's model and batch order")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a fresh ./cyclr-find-NAME); must be empty unless --force")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing its files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_find)


FIND_NAMES = ("start_lr", "end_lr", "num_iter", "step_mode", "epochs_per_step", "epochs", "momentum", "weight_decay")


def run_find(args: argparse.Namespace) -> int:
    """``cyclr find``: check the options, run the range test, print the bounds, write the curve.

    Args:
        args: the parsed command line.

    Returns:
        0 with bounds; 1 when the curve gave none (the files are written all the same).

    Raises:
        UsageError: a bad option or combination, found before the range test starts.
        RunError: a factory raised, the range test failed, or a file cannot be written.

    Examples:
        >>> run_find(build_parser().parse_args(["find", "--task", "digits", "--momentum", "0.5"]))
        Traceback (most recent call last):
        ...
        cyclr.cli.UsageError: --momentum applies to --model only; a bundled task trains with its own
    """
    from .reproduce.find import cwd_importable

    _check_user_options(args)
    with cwd_importable():
        return _run_find(args)


def _run_find(args: argparse.Namespace) -> int:
    from .reproduce.find import (
        MAX_RANGE_TEST_ITERATIONS,
        FactoryCallError,
        FactoryError,
        check_sweep,
        subject_from_factories,
        subject_from_task,
    )

    num_iter = args.num_iter
    try:
        if args.model is not None:
            subject = subject_from_factories(args.model, args.data, args.momentum, args.weight_decay,
                                             **_user_subject_options(args))
            name = args.model.partition(":")[2]
            if num_iter is None and args.epochs is not None:
                if subject.iterations_per_epoch is None:
                    raise UsageError("--epochs needs a train loader with len(); give --num-iter instead")
                num_iter = args.epochs * subject.iterations_per_epoch
        else:
            from .reproduce.tasks import load_task

            task = load_task(args.task or "digits")
            subject = subject_from_task(task, args.seed)
            name = task.name
            if num_iter is None:
                num_iter = (args.epochs or task.range_test_epochs) * task.iterations_per_epoch
    except FactoryCallError as err:
        raise RunError(str(err)) from None
    except (FactoryError, ValueError) as err:  # a bad factory path, an unknown task
        raise UsageError(str(err)) from None
    if args.num_iter is None and num_iter is not None and num_iter > MAX_RANGE_TEST_ITERATIONS:
        raise UsageError(
            f"--epochs must give at most {MAX_RANGE_TEST_ITERATIONS:,} iterations "
            f"({subject.iterations_per_epoch} per epoch), got --epochs={args.epochs} ({num_iter:,} iterations)"
        )
    try:
        check_sweep(args.start_lr, args.end_lr, num_iter, args.step_mode)
        _check_step_size(subject.iterations_per_epoch, args.epochs_per_step)
    except ValueError as err:
        raise UsageError(_flags(str(err), FIND_NAMES)) from None
    if args.bounds is not None:
        return _print_given_bounds(args.bounds, subject.iterations_per_epoch, args.epochs_per_step)
    with _output_folder(args.out, f"cyclr-find-{name}", args.force) as out:
        return _find_into(out, subject, name, num_iter, args)


def _print_given_bounds(bounds: Sequence[float], iterations_per_epoch: int | None, epochs_per_step: float) -> int:
    """``cyclr find --bounds``: no range test; the step size and the CyclicLR line for the given bounds."""
    from .reproduce.find import describe_bounds
    from .suggest import Bounds

    given = Bounds(bounds[0], bounds[1], "given", "set with --bounds; no range test was run")
    for line in describe_bounds(given, iterations_per_epoch, epochs_per_step):
        print(line)
    return 0


def _check_step_size(iterations_per_epoch: int | None, epochs_per_step: float) -> None:
    if iterations_per_epoch and not math.isfinite(iterations_per_epoch * epochs_per_step * 2):
        raise ValueError(f"epochs_per_step must give a finite step size, got epochs_per_step={epochs_per_step!r}")


def _find_into(out: Path, subject: Any, name: str, num_iter: int | None, args: argparse.Namespace) -> int:
    from .reproduce.find import describe_bounds, run_range_test, write_find_outputs
    from .reproduce.training import torch_threads
    from .suggest import NoSuggestionError

    try:
        with torch_threads(None if args.model is not None else 1):  # one thread suits the tiny bundled models
            result = run_range_test(subject, num_iter, args.start_lr, args.end_lr, args.step_mode, not args.no_progress,
                                    max_grad_norm=args.max_grad_norm, max_grad_value=args.max_grad_value)
    except NoSuggestionError as err:  # e.g. the automatic sweep diverged at once
        raise RunError(str(err)) from None
    except (TypeError, ValueError) as err:
        if getattr(err, "range_test_result", None) is None:  # rejected before training: a bad option value
            raise UsageError(str(err)) from None
        raise RunError(f"the range test failed: {err}") from None
    try:
        bounds = result.suggest()
    except NoSuggestionError as err:
        bounds = None
        print(f"no bounds: {_one_line(str(err))}", file=sys.stderr)
    paths = _write(lambda: write_find_outputs(result, bounds, out))
    print(f"range test on {name}: {len(result)} steps, lr {result.lrs[0]:.3g} to {result.lrs[-1]:.3g} "
          f"({result.stop_reason})")
    if bounds is not None:
        for line in describe_bounds(bounds, subject.iterations_per_epoch, args.epochs_per_step):
            print(line)
    print(f"wrote {paths['json']}, {paths['csv']}, {paths['figure']}")
    return 0 if bounds is not None else 1


def _write(writer: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """Run ``writer()``; an OSError (a full disk, say) becomes a one-line RunError."""
    try:
        return writer()
    except OSError as err:
        where = f" {err.filename!r}" if err.filename else ""
        raise RunError(f"cannot write the results{where}: {err.strerror or err}") from None


USER_RANGE_TEST_EPOCHS = 8  # cyclr reproduce --model: the range test's linear sweep, in epochs


def add_reproduce_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``cyclr reproduce``'s arguments on ``subparsers``, with :func:`run_reproduce` as its handler.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers`` returned.

    Examples:
        >>> args = build_parser().parse_args(["reproduce", "--seeds", "2"])
        >>> args.handler is run_reproduce
        True
    """
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's Table-1 experiment (CLR policies vs a tuned constant LR) on bundled real data",
        description="Range test -> CLR bounds, then fixed (best constant LR of a grid, chosen on validation "
        "accuracy), fixed_steps, triangular, triangular2, exp_range, decay and exp trained for the same budget "
        "from the same seeds. Writes report.md, results.json, accuracy.png and range_test.png. The default "
        "(digits, 3 seeds) takes about half a minute on 2 CPU cores; --task mnist takes several times longer "
        "(a CNN on 3,500 images: about 2-4 minutes, more on a busy machine). --model/--data run it on your own "
        "model and data (with --epochs); the metric is accuracy for class-index targets, else the loss.",
    )
    parser.add_argument(
        "--task", default=None, help="digits (default, fast) or mnist (takes longer: ~2-4 min on 2 CPUs)"
    )
    _add_user_options(parser, "momentum for --model, in [0, 1]; beta1 for adam/adamw (default: 0.9; rmsprop: 0)")
    parser.add_argument("--seeds", type=_positive_int, default=3, help="runs per policy, seeds 0..N-1 (default: 3)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a fresh ./cyclr-reproduce-TASK); must be empty unless --force")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing its files")
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help="training budget (default: the task's; required with --model)")
    parser.add_argument("--epochs-per-step", type=_positive_float, default=None,
                        help="half-cycle length in epochs (default: the task's; with --model 4, or half of "
                        "--epochs if that is less; the paper: 2-10)")
    parser.add_argument("--range-test-epochs", type=_positive_int, default=None,
                        help=f"length of the range test's linear sweep (default: the task's; "
                        f"{USER_RANGE_TEST_EPOCHS} with --model)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run_reproduce)


REPRODUCE_NAMES = ("epochs_per_step", "range_test_epochs", "epochs", "seeds")
USER_EPOCHS_PER_STEP = 4.0  # cyclr reproduce --model: the half-cycle, unless --epochs is shorter than a cycle


def run_reproduce(args: argparse.Namespace) -> int:
    """``cyclr reproduce``: check the budget, run the experiment, write and summarise the report.

    Args:
        args: the parsed command line.

    Returns:
        0; the summary is printed.

    Raises:
        UsageError: an unknown task or a budget that fails :func:`cyclr.reproduce.check_budget`,
            found before anything trains.
        RunError: the range test gave no bounds, a run failed, or a file cannot be written.

    Examples:
        >>> run_reproduce(build_parser().parse_args(["reproduce", "--task", "cifar"]))
        Traceback (most recent call last):
        ...
        cyclr.cli.UsageError: task must be one of 'digits', 'mnist'; got task='cifar'
    """
    from .reproduce.find import cwd_importable

    _check_user_options(args)
    if args.model is not None and args.epochs is None:
        raise UsageError("--epochs is required with --model/--data")
    with cwd_importable():
        task = _reproduce_task(args)
        _check_reproduce_budget(task, args)
        with _output_folder(args.out, f"cyclr-reproduce-{task.name}", args.force) as out:
            return _reproduce_into(out, task, args)


def _reproduce_task(args: argparse.Namespace) -> Any:
    """The bundled task, or one built from ``--model``/``--data`` (the data factory is called here)."""
    from .reproduce.custom import task_from_factories
    from .reproduce.find import FactoryCallError, FactoryError, OptimizerChoice
    from .reproduce.tasks import load_task

    try:
        if args.model is None:
            return load_task(args.task or "digits")
        per_step = args.epochs_per_step
        if per_step is None:
            per_step = min(USER_EPOCHS_PER_STEP, args.epochs / 2)
        named = f"--model {args.model} --data {args.data}" + "".join(
            f" --{flag} {value}" for flag, value in (("optimizer", args.optimizer), ("momentum", args.momentum),
                                                     ("weight-decay", args.weight_decay), ("loss", args.loss),
                                                     ("step-fn", args.step_fn)) if value is not None
        )
        return task_from_factories(
            args.model, args.data, optimizer=OptimizerChoice(args.optimizer or "sgd", args.momentum, args.weight_decay),
            loss=args.loss, step_fn=args.step_fn, epochs=args.epochs, epochs_per_step=per_step,
            range_test_epochs=USER_RANGE_TEST_EPOCHS, command_args=named,
        )
    except FactoryCallError as err:
        raise RunError(str(err)) from None
    except (FactoryError, ValueError) as err:  # a bad factory path, an unknown task
        raise UsageError(str(err)) from None


def _check_reproduce_budget(task: Any, args: argparse.Namespace) -> None:
    from .reproduce import check_budget, check_range_test_epochs

    per_step = args.epochs_per_step if args.epochs_per_step is not None else task.epochs_per_step
    epochs = args.epochs if args.epochs is not None else task.epochs
    rt_epochs = args.range_test_epochs if args.range_test_epochs is not None else task.range_test_epochs
    try:
        check_budget(epochs, per_step, task.iterations_per_epoch)
        check_range_test_epochs(rt_epochs, task.iterations_per_epoch)
    except ValueError as err:
        raise UsageError(_flags(str(err), REPRODUCE_NAMES)) from None


def _reproduce_into(out: Path, task: Any, args: argparse.Namespace) -> int:
    from .reproduce import print_summary, run_reproduction, write_outputs
    from .reproduce.find import FactoryCallError
    from .suggest import NoSuggestionError

    try:
        results = run_reproduction(
            task,
            args.seeds,
            epochs=args.epochs,
            range_test_epochs=args.range_test_epochs,
            epochs_per_step=args.epochs_per_step,
            progress=not args.no_progress,
            num_threads=1 if args.model is None else None,
            bounds=tuple(args.bounds) if args.bounds is not None else None,
        )
    except NoSuggestionError as err:
        raise RunError(f"the range test gave no bounds: {err}") from None
    except (FactoryCallError, TypeError, ValueError) as err:
        raise RunError(str(err)) from None
    paths = _write(lambda: write_outputs(results, out))
    print_summary(results, paths)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``cyclr`` parser with its three subcommands; errors exit 2 in one line.

    Returns:
        The parser; ``parse_args`` gives a namespace whose ``handler`` runs the subcommand.

    Examples:
        >>> build_parser().parse_args(["reproduce"]).seeds
        3
    """
    parser = _Parser(prog="cyclr", description="Cyclical learning rates and the LR range test.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_plot_parser(subparsers)
    add_find_parser(subparsers)
    add_reproduce_parser(subparsers)
    return parser


# Set to any value to see the traceback of an unexpected error instead of its one-line summary.
TRACEBACK_VARIABLE = "CYCLR_TRACEBACK"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cyclr`` with ``argv`` (default: the command line); return the exit status.

    Every error is reported in one line on stderr: a bad argument exits 2
    (before any work), a failure of the work itself exits 1, also when it is
    the user's model or data that raised (``CYCLR_TRACEBACK=1`` shows the traceback).

    Args:
        argv: the arguments after ``cyclr`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0, 1 when the work failed, 130 on Ctrl-C.

    Raises:
        SystemExit: with status 2 for a bad argument, and 0 after ``--help``.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     main(["plot", "--base-lr", "0.001", "--max-lr", "0.006", "-o", f"{folder}/lr.png"])  # doctest: +ELLIPSIS
        wrote .../lr.png
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as err:
        parser.exit(2, f"cyclr {args.command}: error: {_one_line(str(err))}\n")
    except RunError as err:
        print(f"cyclr {args.command}: {_one_line(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the user's model or data failed mid-run: one line, the traceback on request
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(
            f"cyclr {args.command}: {type(err).__name__} during the run: {_one_line(str(err))} "
            f"(set {TRACEBACK_VARIABLE}=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
