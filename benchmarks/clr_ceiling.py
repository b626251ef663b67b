"""What could any reading of the range test score on the suggestion suite? The ceiling of CLR bounds.

``suggest_suite.py`` scores readings against the best constant LR: collapses,
median speedup to the best constant's final level, final gap. This script asks
what the best triangular-CLR bounds score there, found by search with the test
set in view - an upper bound for every reading, which sees only a range test:

1. for each task of the suite, a grid of bounds: ``max_lr`` at quarter-decade
   steps from a tenth to ten times the task's best constant LR (9 values) and
   ``base_lr = max_lr / k`` for ``k`` in 2, 4 and 10 (27 pairs);
2. each pair is trained on every seed with the suite's protocol (same initial
   weights, batch order, budget and whole cycles; ``suggest_suite.train_run``);
3. per task, the pair with the fewest collapses, then the highest median
   speedup, then the best mean gap is the task's ceiling (one pair for all
   seeds, as a reading that knew the task would give);
4. per run, the highest speedup among pairs that do not collapse on that seed
   is the run's ceiling (more optimistic still: a pair per seed).

The constant-LR runs (and so each task's best constant, its final level and
its iterations to it) come from a suite run given with ``--reuse``
(``runs/.../results.json`` of ``suggest_suite.py`` with the same task specs);
tasks it lacks, or with another spec, get their constants trained here.

    python benchmarks/clr_ceiling.py --reuse runs/final/results.json [--tasks a,b] [--seeds N]
                                     [--jobs 2] [--out DIR] [--force]

It prints a table per task and a summary, and writes ``results.json`` and
``report.txt`` to ``--out`` (default ``runs/clr-ceiling-<timestamp>``). The 12
tasks x 3 seeds train 972 CLR runs: about 8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suggest_suite as suite  # noqa: E402  (the tasks, the protocol, the scores and output helpers)

MAX_FACTORS = tuple(10 ** (k / 4) for k in range(-4, 5))
"""``max_lr`` / the best constant LR: quarter-decade steps from 0.1 to 10."""
BASE_DIVISORS = (2.0, 4.0, 10.0)
"""``base_lr = max_lr / k``."""


def pairs(best_lr: float) -> list[dict[str, float]]:
    """The bounds searched for a task whose best constant LR is ``best_lr``.

    Examples:
        >>> ps = pairs(0.01)
        >>> len(ps), ps[0]["max_lr"], ps[0]["base_lr"]
        (27, 0.001, 0.0005)
    """
    out = []
    for factor in MAX_FACTORS:
        max_lr = float(f"{best_lr * factor:.3g}")
        out += [{"base_lr": float(f"{max_lr / k:.3g}"), "max_lr": max_lr} for k in BASE_DIVISORS]
    return out


def score(metric: str, best_run: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """One CLR run against the seed's best-constant run: final, gap, collapse, speedup (None: never)."""
    target = best_run["final"]
    best_it = suite.iterations_to(metric, best_run["curve"], target, best_run["iterations_per_eval"])
    it = suite.iterations_to(metric, run["curve"], target, run["iterations_per_eval"])
    return {"final": run["final"], "gap": suite.gap(metric, run["final"], target),
            "collapse": suite.is_collapse(metric, run["final"], target), "speedup": suite.speedup(best_it, it)}


def rank_key(scores: Sequence[dict[str, Any]]) -> tuple[int, float, float]:
    """Fewest collapses, then highest median speedup (never = 0), then best mean gap: larger is better."""
    return (-sum(s["collapse"] for s in scores), suite.median_speedup([s["speedup"] for s in scores]) or 0.0,
            float(np.mean([s["gap"] for s in scores])))


def constants(task: suite.SuiteTask, seeds: int, earlier: dict[str, Any] | None, workers: int, tiny: bool
              ) -> dict[tuple[int, float], dict[str, Any]]:
    """The constant-LR runs of ``task``: from the earlier suite run where it has them, else trained now."""
    out: dict[tuple[int, float], dict[str, Any]] = {}
    jobs, keys = [], []
    for s in range(seeds):
        old = suite.reusable(earlier, task, s)
        for lr in task.grid:
            run = (old or {}).get("runs", {}).get(suite.const_name(lr))
            if run is not None:
                out[s, lr] = run
            else:
                jobs.append(("train", task.name, (tiny, None), s, {"lr": lr}))
                keys.append((s, lr))
    out |= dict(zip(keys, suite._run_jobs(jobs, workers, f"{task.name}: constants")))
    return out


def run_task(task: suite.SuiteTask, seeds: int, earlier: dict[str, Any] | None, workers: int,
             tiny: bool = False) -> dict[str, Any]:
    """Train every pair on every seed; the task's ceiling pair and every pair's scores."""
    runs = constants(task, seeds, earlier, workers, tiny)
    finals = {lr: [runs[s, lr]["final"] for s in range(seeds)] for lr in task.grid}
    best_lr = suite.best_constant_lr(task.grid, task.metric, finals)
    grid = pairs(best_lr)
    jobs = [("train", task.name, (tiny, None), s, p) for p in grid for s in range(seeds)]
    trained = iter(suite._run_jobs(jobs, workers, f"{task.name}: CLR bounds"))
    table = []
    for p in grid:
        scores = [score(task.metric, runs[s, best_lr], next(trained)) for s in range(seeds)]
        table.append({"bounds": p, "scores": scores})
    ceiling = max(table, key=lambda row: rank_key(row["scores"]))
    per_run = []
    for s in range(seeds):
        ok = [row["scores"][s]["speedup"] or 0.0 for row in table if not row["scores"][s]["collapse"]]
        per_run.append(max(ok) if ok else None)
    return {"metric": task.metric, "best_lr": best_lr, "pairs": table, "ceiling": ceiling, "per_run": per_run}


def summarize(tasks: dict[str, Any]) -> dict[str, Any]:
    """The per-task ceilings pooled over all runs."""
    scores = [s for t in tasks.values() for s in t["ceiling"]["scores"]]
    per_run = [v for t in tasks.values() for v in t["per_run"]]

    def mean_gap(metric: str) -> float | None:
        gaps = [s["gap"] for t in tasks.values() if t["metric"] == metric for s in t["ceiling"]["scores"]]
        return float(np.mean(gaps)) if gaps else None

    return {"runs": len(scores), "collapses": int(sum(s["collapse"] for s in scores)),
            "median_speedup": suite.median_speedup([s["speedup"] for s in scores]),
            "at_least_2x": int(sum((s["speedup"] or 0.0) >= 2.0 for s in scores)),
            "mean_gap_accuracy": mean_gap(suite.ACCURACY), "mean_gap_mse": mean_gap(suite.MSE),
            "per_run_median_speedup": statistics.median([v or 0.0 for v in per_run]) if per_run else None,
            "per_run_without_safe_pair": int(sum(v is None for v in per_run))}


def format_report(results: dict[str, Any]) -> str:
    lines = ["CLR ceiling: the best bounds of a 27-pair grid per task, picked with the test set in view",
             "", "| task | best constant | ceiling bounds | collapses | speedups | gaps | per-run best speedups |",
             "|---|---:|---|---:|---|---|---|"]
    for name, t in results["tasks"].items():
        c = t["ceiling"]
        unit = " pts" if t["metric"] == suite.ACCURACY else " %"
        speedups = ", ".join(suite._fmt(s["speedup"], ".2f", "never") for s in c["scores"])
        gaps = ", ".join(f"{s['gap']:+.2f}{unit}" for s in c["scores"])
        per_run = ", ".join(suite._fmt(v, ".2f", "none safe") for v in t["per_run"])
        lines.append(f"| {name} | {t['best_lr']:g} | {c['bounds']['base_lr']:g}..{c['bounds']['max_lr']:g} | "
                     f"{sum(s['collapse'] for s in c['scores'])}/{len(c['scores'])} | {speedups} | {gaps} | "
                     f"{per_run} |")
    s = results["summary"]
    lines += ["", f"over {s['runs']} runs (one pair per task): {s['collapses']} collapses, median speedup "
              f"{suite._fmt(s['median_speedup'])}, {s['at_least_2x']} runs at >= 2x, mean gap "
              f"{suite._fmt(s['mean_gap_accuracy'], '+.2f')} accuracy points, "
              f"{suite._fmt(s['mean_gap_mse'], '+.2f')} % MSE",
              f"a pair per run: median speedup {suite._fmt(s['per_run_median_speedup'])}; "
              f"{s['per_run_without_safe_pair']} runs where every pair collapses"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", help="results.json of a suggest_suite.py run: its constant-LR runs")
    parser.add_argument("--tasks", help=f"comma-separated subset of {','.join(suite.TASKS)}")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per task (default 3)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--out", help="output folder (default runs/clr-ceiling-<timestamp>)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets and grids (for tests)")
    args = parser.parse_args(argv)
    names = suite.task_names(parser, args.tasks, suite.TASKS)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    earlier = suite.read_results(parser, args.reuse)
    out = args.out or os.path.join("runs", "clr-ceiling-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    suite.prepare_out(out, args.force)
    torch.set_num_threads(1)
    tasks = {name: run_task(suite.get_task(name, args.smoke), args.seeds, earlier, args.jobs, args.smoke)
             for name in names}
    results = {"settings": {"max_factors": MAX_FACTORS, "base_divisors": BASE_DIVISORS, "seeds": args.seeds,
                            "smoke": args.smoke, "reuse": args.reuse},
               "tasks": tasks, "summary": summarize(tasks)}
    report = format_report(results)
    print(report)
    suite.save(results, out, report, figure=False)
    print(f"results and report written to {out}")
    return results


if __name__ == "__main__":
    main()
