"""The ``cyclr`` command: ``plot`` previews schedules (more subcommands below).

Each subcommand is an ``add_<name>_parser(subparsers)`` that registers its
arguments and sets ``handler`` to a ``run_<name>(args) -> int`` function.
Invalid values exit with status 2 and a one-line message, as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .schedules import MODES, SHAPES, CyclicSchedule


class UsageError(Exception):
    """A bad argument value found after parsing; reported like an argparse error."""


def add_plot_parser(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--step-size", type=int, default=2000, help="iterations of the rising half-cycle")
    parser.add_argument("--step-size-down", type=int, default=None, help="falling half (default: symmetric)")
    parser.add_argument("--gamma", type=float, default=0.99994, help="decay of exp_range (default: 0.99994)")
    parser.add_argument("--iterations", type=int, default=None, help="how many to draw (default: 5 cycles)")
    parser.add_argument("--momentum", nargs=2, type=float, metavar=("BASE", "MAX"), help="also draw momentum")
    parser.add_argument("--log", action="store_true", help="logarithmic LR axis")
    parser.add_argument("-o", "--output", type=Path, default=Path("cyclr-schedule.png"), help="PNG to write")
    parser.set_defaults(handler=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from .plot import plot_schedules

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
    iterations = args.iterations if args.iterations is not None else int(5 * first.total_size)
    if iterations < 1:
        raise UsageError(f"--iterations must be >= 1, got {iterations}")
    title = f"cyclical learning rate, base_lr={args.base_lr:g}, max_lr={args.max_lr:g}"
    fig = plot_schedules(
        schedules, iterations, momentum=tuple(args.momentum) if args.momentum else None, log_y=args.log, title=title
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _fresh_folder(name: str) -> Path:
    """``name`` in the current directory, or ``name-2``, ``name-3``, ... if it is taken."""
    path, n = Path(name), 1
    while path.exists():
        n += 1
        path = Path(f"{name}-{n}")
    return path


def add_find_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "find",
        help="run the LR range test and print the suggested CLR bounds",
        description="LR range test (cyclr.torch.LRFinder) on a bundled task (--task) or on your own code "
        "(--model pkg.mod:make_model --data pkg.mod:make_loaders, where make_loaders() returns train_loader or "
        "(train_loader, val_loader)). Prints base_lr, max_lr and the recommended step size; writes the curve "
        "(range_test.json, range_test.csv) and range_test.png with the bounds marked.",
    )
    parser.add_argument("--task", default=None, help="bundled task: digits (default) or mnist")
    parser.add_argument("--model", default=None, metavar="MODULE:FUNCTION", help="factory returning an nn.Module")
    parser.add_argument("--data", default=None, metavar="MODULE:FUNCTION", help="factory returning the loaders")
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help="length of the linear sweep in epochs (default: the task's, or 8 for --data)")
    parser.add_argument(
        "--num-iter", type=_positive_int, default=None, help="length in iterations (overrides --epochs)"
    )
    parser.add_argument("--start-lr", type=float, default=None, help="first LR (default: automatic two-stage sweep)")
    parser.add_argument("--end-lr", type=_positive_float, default=None, help="last LR (default: automatic)")
    parser.add_argument("--step-mode", choices=("linear", "exp"), default=None, help="LR ramp (default: linear; exp when --end-lr / --start-lr >= 100)")
    parser.add_argument("--epochs-per-step", type=_positive_float, default=4.0,
                        help="half-cycle length for the recommended step size (default: 4)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum for --model (default: 0.9)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="SGD weight decay for --model (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a bundled task's model and batch order")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a fresh ./cyclr-find-NAME)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_find)


def run_find(args: argparse.Namespace) -> int:
    from ._find import (
        FactoryError,
        describe_bounds,
        run_range_test,
        subject_from_factories,
        subject_from_task,
        write_find_outputs,
    )
    from .suggest import NoSuggestionError

    if (args.model is None) != (args.data is None):
        raise UsageError("--model and --data must be given together")
    if args.model is not None and args.task is not None:
        raise UsageError("give either --task or --model/--data, not both")
    num_iter = args.num_iter
    try:
        if args.model is not None:
            subject = subject_from_factories(args.model, args.data, args.momentum, args.weight_decay)
            name = args.model.partition(":")[2]
            if num_iter is None and args.epochs is not None:
                if subject.iterations_per_epoch is None:
                    raise UsageError("--epochs needs a train loader with len(); give --num-iter instead")
                num_iter = args.epochs * subject.iterations_per_epoch
        else:
            from .tasks import load_task

            task = load_task(args.task or "digits")
            subject = subject_from_task(task, args.seed)
            name = task.name
            if num_iter is None:
                num_iter = (args.epochs or task.range_test_epochs) * task.iterations_per_epoch
    except FactoryError as err:
        raise UsageError(str(err)) from None
    except ValueError as err:  # unknown task
        raise UsageError(str(err)) from None
    from ._training import torch_threads

    try:
        with torch_threads(None if args.model is not None else 1):  # one thread suits the tiny bundled models
            result = run_range_test(subject, num_iter, args.start_lr, args.end_lr, args.step_mode, not args.no_progress)
    except NoSuggestionError as err:  # e.g. the automatic sweep diverged at once
        print(f"cyclr find: {err}", file=sys.stderr)
        return 1
    except (TypeError, ValueError) as err:
        if getattr(err, "range_test_result", None) is None:  # rejected before training: a bad option value
            raise UsageError(str(err)) from None
        raise
    out = args.out if args.out is not None else _fresh_folder(f"cyclr-find-{name}")
    try:
        bounds = result.suggest()
    except NoSuggestionError as err:
        bounds = None
        print(f"no bounds: {err}", file=sys.stderr)
    paths = write_find_outputs(result, bounds, out)
    print(f"range test on {name}: {len(result)} steps, lr {result.lrs[0]:.3g} to {result.lrs[-1]:.3g} "
          f"({result.stop_reason})")
    if bounds is not None:
        for line in describe_bounds(bounds, subject.iterations_per_epoch, args.epochs_per_step):
            print(line)
    print(f"wrote {paths['json']}, {paths['csv']}, {paths['figure']}")
    return 0 if bounds is not None else 1


def add_reproduce_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's Table-1 experiment (CLR policies vs a tuned constant LR) on bundled real data",
        description="Range test -> CLR bounds, then fixed (best constant LR of a grid, chosen on validation "
        "accuracy), fixed_steps, triangular, triangular2, exp_range, decay and exp trained for the same budget "
        "from the same seeds. Writes report.md, results.json, accuracy.png and range_test.png. The default "
        "(digits, 3 seeds) takes about half a minute on 2 CPU cores; --task mnist takes several times longer "
        "(a CNN on 3,500 images: about 2-4 minutes, more on a busy machine).",
    )
    parser.add_argument(
        "--task", default="digits", help="digits (default, fast) or mnist (takes longer: ~2-4 min on 2 CPUs)"
    )
    parser.add_argument("--seeds", type=_positive_int, default=3, help="runs per policy, seeds 0..N-1 (default: 3)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a fresh ./cyclr-reproduce-TASK)")
    parser.add_argument("--epochs", type=_positive_int, default=None, help="training budget (default: the task's)")
    parser.add_argument("--epochs-per-step", type=_positive_float, default=None,
                        help="half-cycle length in epochs (default: the task's; the paper: 2-10)")
    parser.add_argument("--range-test-epochs", type=_positive_int, default=None,
                        help="length of the range test's linear sweep (default: the task's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run_reproduce)


def run_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import check_budget, print_summary, run_reproduction, write_outputs
    from .suggest import NoSuggestionError
    from .tasks import load_task

    try:
        task = load_task(args.task)
    except ValueError as err:
        raise UsageError(str(err)) from None
    per_step = args.epochs_per_step if args.epochs_per_step is not None else task.epochs_per_step
    epochs = args.epochs if args.epochs is not None else task.epochs
    try:
        check_budget(epochs, per_step, task.iterations_per_epoch)
    except ValueError as err:
        raise UsageError("--" + str(err).replace("epochs_per_step", "--epochs-per-step")) from None
    out = args.out if args.out is not None else _fresh_folder(f"cyclr-reproduce-{task.name}")
    try:
        results = run_reproduction(
            task.name,
            args.seeds,
            epochs=args.epochs,
            range_test_epochs=args.range_test_epochs,
            epochs_per_step=args.epochs_per_step,
            progress=not args.no_progress,
        )
    except NoSuggestionError as err:
        print(f"cyclr reproduce: the range test gave no bounds: {err}", file=sys.stderr)
        return 1
    paths = write_outputs(results, out)
    print_summary(results, paths)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cyclr", description="Cyclical learning rates and the LR range test.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_plot_parser(subparsers)
    add_find_parser(subparsers)
    add_reproduce_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as err:
        parser.exit(2, f"cyclr {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
