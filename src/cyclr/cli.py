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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cyclr", description="Cyclical learning rates and the LR range test.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_plot_parser(subparsers)
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
