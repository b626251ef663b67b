"""How much the suggested bounds depend on the range test's sweep, not only on the LR.

The range test reads "the metric at step t" as "the metric at the LR of step
t". But the metric also rises because training has progressed, so where it
tops out depends on how far the sweep goes in its steps, too. This script
measures that, on the tasks of ``suggest_suite.py``:

1. the automatic range test (its defaults: coarse exponential sweep, then a
   linear one from 0 to an end chosen from it, perhaps a finer second one)
   gives the end ``E``, the number of steps ``N`` and the metric interval;
2. the same range test is run again from the same initial weights and batch
   order as one linear sweep from 0 to ``f * E`` for each factor ``f`` (0.5 and
   0.25 by default), with the same ``N`` and interval;
3. each sweep's first metric peak and suggested ``max_lr`` are recorded.

If the metric responded to the LR alone, ``max_lr`` would not move with ``f``
(a sensitivity of 0); if it responded to the sweep alone, it would scale with
``f`` (a sensitivity of 1). The sensitivity is the slope of log(max_lr) against
log(end) over the factors, per task and seed.

    python benchmarks/sweep_length.py [--tasks a,b] [--seeds 2] [--factors 0.5,0.25] [--jobs 2] [--out DIR] [--force]

It writes ``results.json`` and ``report.txt`` to ``--out`` (default
``runs/sweep-length-<timestamp>``).
"""

from __future__ import annotations

import argparse
import datetime
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suggest_suite as suite  # noqa: E402  (the tasks, seeding and output helpers)

from cyclr.suggest import NoSuggestionError, first_peak  # noqa: E402
from cyclr.torch import LRFinder  # noqa: E402

DEFAULT_TASKS = ("digits_mlp", "signal1d_cnn", "digits_bn_cnn", "digits_rows_gru", "cancer_mlp",
                 "friedman_mlp", "classify40_dropout", "digits_rows_attention", "moons_mlp", "diabetes_mlp")


def sensitivity(ends: Sequence[float], max_lrs: Sequence[float]) -> float | None:
    """Least-squares slope of log(max_lr) on log(end): 0 = the reading follows the LR alone, 1 = the sweep alone.

    Examples:
        >>> round(sensitivity([1.0, 0.5, 0.25], [0.2, 0.1, 0.05]), 6)
        1.0
        >>> sensitivity([1.0, 0.5], [0.2, 0.2])
        0.0
    """
    pairs = [(math.log(e), math.log(m)) for e, m in zip(ends, max_lrs) if m is not None and m > 0 and e > 0]
    if len(pairs) < 2:
        return None
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    if np.ptp(x) == 0:
        return None
    return float(np.polyfit(x, y, 1)[0])


def _range_test(task: suite.SuiteTask, seed: int, **sweep: Any) -> Any:
    model = task.build_model(seed)
    optimizer = task.make_optimizer(model, lr=task.grid[len(task.grid) // 2])
    with suite.seeded(seed):
        return LRFinder(model, optimizer, task.criterion(), progress=False).range_test(
            task.train_loader(seed), val_loader=task.eval_loader("val"), **sweep)


def _read(result: Any) -> dict[str, Any]:
    metric = next((k for k in result.metrics if "acc" in k), "val_loss")
    peak = first_peak(result.metric_lrs, result.metrics[metric], higher_is_better=metric != "val_loss")
    out: dict[str, Any] = {"end_lr": float(result.lrs[-1]), "metric": metric,
                           "peak_lr": None if peak is None else peak[0],
                           "peak_point": None if peak is None else peak[1],
                           "metric_points": int(len(result.metric_lrs)),
                           "metric_lrs": result.metric_lrs.tolist(), "metric_values": result.metrics[metric].tolist()}
    try:
        b = result.suggest()
        out |= {"base_lr": b.base_lr, "max_lr": b.max_lr, "method": b.method}
    except NoSuggestionError as exc:
        out |= {"base_lr": None, "max_lr": None, "error": str(exc)}
    return out


def measure(name: str, seed: int, factors: Sequence[float], tiny: bool = False) -> dict[str, Any]:
    """The automatic range test of task ``name`` and its reruns as single linear sweeps to ``factor * end``."""
    torch.set_num_threads(1)
    task = suite.get_task(name, tiny)
    auto = _range_test(task, seed)
    sweep = auto.settings["sweep"]
    end, steps, every = float(sweep["end_lr"]), int(sweep["num_iter"]), int(auto.settings["val_every"])
    sweeps = [{"factor": 1.0, "second_sweep": auto.settings.get("second_sweep"), **_read(auto)}]
    for f in factors:
        rerun = _range_test(task, seed, start_lr=0.0, end_lr=f * end, num_iter=steps, val_every=every)
        sweeps.append({"factor": f, **_read(rerun)})
    ends = [end * s["factor"] for s in sweeps]
    return {"task": name, "seed": seed, "end_lr": end, "num_iter": steps, "val_every": every, "sweeps": sweeps,
            "sensitivity": sensitivity(ends, [s["max_lr"] for s in sweeps])}


def run(names: Sequence[str], seeds: int, factors: Sequence[float], jobs: int, tiny: bool = False
        ) -> dict[str, Any]:
    from tqdm.auto import tqdm

    start = time.perf_counter()
    work = [(n, s) for n in names for s in range(seeds)]
    with tqdm(total=len(work), desc="range tests", file=sys.stderr) as bar:
        if jobs <= 1:
            rows = []
            for n, s in work:
                rows.append(measure(n, s, factors, tiny))
                bar.update()
        else:
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                futures = [pool.submit(measure, n, s, factors, tiny) for n, s in work]
                for f in futures:
                    f.add_done_callback(lambda _: bar.update())
                rows = [f.result() for f in futures]
    per_task = {}
    for n in names:
        values = [r["sensitivity"] for r in rows if r["task"] == n and r["sensitivity"] is not None]
        per_task[n] = statistics.mean(values) if values else None
    overall = [v for v in (r["sensitivity"] for r in rows) if v is not None]
    return {"settings": {"tasks": list(names), "seeds": seeds, "factors": list(factors), "tiny": tiny,
                         "torch": torch.__version__},
            "runs": rows, "sensitivity_per_task": per_task,
            "sensitivity_median": statistics.median(overall) if overall else None,
            "seconds": time.perf_counter() - start}


def _lr(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def format_report(results: dict[str, Any]) -> str:
    factors = [1.0, *results["settings"]["factors"]]
    head = "   ".join(f"end x{f:g}: peak / max_lr" for f in factors)
    lines = [f"{'task':<22} {'seed':>4}  {head}  sensitivity"]
    for r in results["runs"]:
        cells = "   ".join(f"{_lr(s['peak_lr']):>8} / {_lr(s['max_lr']):<8}" for s in r["sweeps"])
        sens = "-" if r["sensitivity"] is None else f"{r['sensitivity']:.2f}"
        lines.append(f"{r['task']:<22} {r['seed']:>4}  {cells}  {sens:>6}")
    lines.append("")
    lines.append("sensitivity of max_lr to the sweep's end (0: follows the LR alone, 1: scales with the sweep):")
    for n, v in results["sensitivity_per_task"].items():
        lines.append(f"   {n:<22} {'-' if v is None else f'{v:.2f}'}")
    med = results["sensitivity_median"]
    lines.append(f"   median over all runs   {'-' if med is None else f'{med:.2f}'}")
    lines.append(f"wall time {results['seconds']:.0f} s")
    return "\n".join(lines)


def _factors(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--factors must be numbers in (0, 1), got {text!r}") from None
    if not values or any(not 0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"--factors must be numbers in (0, 1), got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help=f"comma-separated subset of {','.join(suite.TASKS)}")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per task (default 2)")
    parser.add_argument("--factors", type=_factors, default=[0.5, 0.25], help="sweep ends relative to the "
                        "automatic one (default 0.5,0.25)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--out", help="output folder (default runs/sweep-length-<timestamp>)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    parser.add_argument("--smoke", action="store_true", help="tiny tasks (for tests)")
    args = parser.parse_args(argv)
    names = suite.task_names(parser, args.tasks, DEFAULT_TASKS)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    out = args.out or os.path.join("runs", "sweep-length-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    suite.prepare_out(out, args.force)
    results = run(names, args.seeds, args.factors, args.jobs, tiny=args.smoke)
    report = format_report(results)
    print(report)
    suite.save(results, out, report, figure=False)
    print(f"results and report written to {out}")
    return results


if __name__ == "__main__":
    main()
