"""Outputs of ``cyclr reproduce``: results.json, report.md, the figures and the terminal summary."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FILES", "PAPER_TABLE_1", "headline", "print_summary", "report_markdown", "summary_table", "write_outputs"]

PAPER_RATIO = 2.8
PAPER_TABLE_1 = (
    ("fixed (Caffe's schedule)", "70,000", "81.4%"),
    ("triangular2", "25,000", "81.4%"),
    ("decay", "25,000", "78.5%"),
    ("exp", "70,000", "79.1%"),
    ("exp_range", "42,000", "82.2%"),
)
FILES = {
    "results": "results.json",
    "report": "report.md",
    "figure": "accuracy.png",
    "range_test_figure": "range_test.png",
    "range_test_json": "range_test.json",
    "range_test_csv": "range_test.csv",
}
Results = Mapping[str, Any]


def summary_table(results: Results) -> str:
    """The report's main table: one Markdown row per policy.

    Args:
        results: what :func:`cyclr.reproduce.run_reproduction` returns (or ``results.json`` loaded).

    Returns:
        The table: iterations, final test accuracy (mean ± sd), iterations to target and speedup per policy.

    Examples:
        >>> policy = {"iterations": 1000, "accuracy_mean": 0.95, "accuracy_std": 0.01}
        >>> results = {"policies": {
        ...     "fixed": {**policy, "iterations_to_target": 1000, "speedup": 1.0},
        ...     "triangular2": {**policy, "iterations_to_target": 400, "speedup": 2.5},
        ... }}
        >>> print(summary_table(results).splitlines()[-1])
        | triangular2 | 1,000 | 95.00 ± 1.00 | 400 | 2.50x | - |

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Table 1).
    """
    label, fmt = _metric(results)
    rows = [
        f"| policy | iterations | final test {label} (mean ± sd) | iterations to target | speedup vs fixed "
        "| speedup vs fixed_steps |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results["policies"].items():
        hit = entry["iterations_to_target"]
        rows.append(
            f"| {name} | {entry['iterations']:,} | {fmt(entry['accuracy_mean'])} ± {fmt(entry['accuracy_std'])} "
            f"| {'not reached' if hit is None else f'{hit:,}'} | {_ratio(entry['speedup'], '-')} "
            f"| {_ratio(entry.get('speedup_vs_fixed_steps'), '-')} |"
        )
    return "\n".join(rows)


def headline(results: Results) -> str:
    """One paragraph: what was measured, against the paper's 2.8x, in plain words.

    Args:
        results: what :func:`cyclr.reproduce.run_reproduction` returns (or ``results.json`` loaded).

    Returns:
        The paragraph, naming the best cyclic policy, its speedup and whether it matched the paper.

    Examples:
        >>> results = {"policies": {"fixed": {"accuracy_mean": 0.95, "iterations_to_target": 1000}},
        ...            "best_cyclic_policy": None, "target_accuracy": 0.95, "iterations": 1000}
        >>> print(headline(results))  # doctest: +NORMALIZE_WHITESPACE
        Measured: no cyclic policy reached the fixed LR's final test accuracy (95.00%) within 1,000
        iterations, so the paper's 2.8x was not matched on this run.

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186 (Table 1: triangular2 reached fixed's accuracy 2.8x sooner).
    """
    fixed = results["policies"]["fixed"]
    best = results["best_cyclic_policy"]
    is_loss = _is_loss(results)
    name, unit = ("loss", "") if is_loss else ("accuracy", "%")
    fmt = _metric(results)[1]
    target = fmt(results["target_accuracy"])
    if best is None:
        return (
            f"Measured: no cyclic policy reached the fixed LR's final test {name} ({target}{unit}) within "
            f"{results['iterations']:,} iterations, so the paper's {PAPER_RATIO}x was not matched on this run."
        )
    entry = results["policies"][best]
    speedup = results["speedup"]
    worse = entry["accuracy_mean"] > fixed["accuracy_mean"] if is_loss else entry["accuracy_mean"] < fixed["accuracy_mean"]
    met = speedup >= PAPER_RATIO and not worse
    own = fmt(entry["accuracy_mean"])
    if worse and own == target:  # equal once rounded: show the digits that differ
        own, target = f"{100 * entry['accuracy_mean']:.3f}", f"{100 * fixed['accuracy_mean']:.3f}"
        if is_loss:
            own, target = f"{entry['accuracy_mean']:.8g}", f"{fixed['accuracy_mean']:.8g}"
    side = ("above", "at or below") if is_loss else ("below", "at or above")
    return (
        f"Measured: {best} reached the fixed LR's final test {name} ({fmt(results['target_accuracy'])}{unit}) after "
        f"{entry['iterations_to_target']:,} iterations, fixed after {fixed['iterations_to_target']:,}: "
        f"a speedup of {speedup:.2f}x. Its own final {name} was {own}{unit}, "
        f"{side[0] if worse else side[1]} fixed's {target}{unit}. The paper's CIFAR-10 ratio ({PAPER_RATIO}x "
        f"with no loss of accuracy) was {'matched' if met else 'not matched'} on this run."
    )


def write_outputs(results: Results, out_dir: str | Path) -> dict[str, Path]:
    """Write report.md, both figures, the range-test curve (JSON, CSV) and, last, results.json.

    Each file is written atomically. Until results.json is in place the folder
    holds an ``INCOMPLETE`` marker (and no results.json), so an interrupted or
    failed write is never mistaken for a finished report.

    Args:
        results: what :func:`cyclr.reproduce.run_reproduction` returns, the range test included.
        out_dir: the folder to write into; created if missing.

    Returns:
        The path of each file written, by the keys of :data:`FILES` (no range-test
        files when ``results["range_test"]`` is None).

    Raises:
        OSError: a file cannot be written (the folder is then marked ``INCOMPLETE``).

    Examples:
        >>> from types import SimpleNamespace
        >>> import numpy as np
        >>> from cyclr import Bounds
        >>> from cyclr.reproduce import POLICIES, make_plan, summarise
        >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=4, epochs=4, epochs_per_step=1)
        >>> rising = np.linspace(0.5, 0.9, len(plan.points))[None]  # one seed
        >>> curve = {"test": rising, "val": rising, "lr": np.full(rising.shape[1], 0.02), "diverged": np.zeros(1, bool)}
        >>> results = summarise(SimpleNamespace(name="toy", description="A toy task"), plan,
        ...                     Bounds(0.01, 0.04, "valley", "set by hand"), 0.02, {0.02: curve},
        ...                     dict.fromkeys(POLICIES, curve), seeds=[0])
        >>> results["command"] = "cyclr reproduce --task toy --seeds 1"
        >>> results["runtime_seconds"] = {"range_test": 1.0, "training": 2.0, "total": 3.0}
        >>> results["settings"] = {"epochs": 4, "epochs_per_step": 1, "range_test_epochs": 2,
        ...                        "iterations_per_epoch": 4, "batch_size": 8, "optimizer": "SGD(momentum=0.9)",
        ...                        "split_sizes": {"train": 32, "val": 16, "test": 16}}
        >>> from cyclr import RangeSweep, RangeTestRecorder
        >>> recorder = RangeTestRecorder(RangeSweep(1e-4, 1.0, 30, "exp"))
        >>> stopped = [recorder.record_loss(2.0 - np.sin(np.pi * i / 30)) for i in range(30)]
        >>> results["range_test"] = recorder.result()
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     paths = write_outputs(results, folder)
        ...     sorted(path.name for path in Path(folder).iterdir())
        ['accuracy.png', 'range_test.csv', 'range_test.json', 'range_test.png', 'report.md', 'results.json']

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    from .._io import OutputSet, save_figure, write_text
    from ..suggest import Bounds
    from .figures import plot_reproduction

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    range_test = results.get("range_test")
    data = {key: value for key, value in results.items() if key != "range_test"}
    read = data["bounds"]
    bounds = Bounds(read["base_lr"], read["max_lr"], read["method"], read["explanation"], warnings=tuple(read["warnings"]))
    with OutputSet(out, manifest=FILES["results"]) as files:
        if range_test is not None:  # None: the bounds were given, no range test ran
            files.write("range_test_json", FILES["range_test_json"], range_test.save)
            files.write("range_test_csv", FILES["range_test_csv"], range_test.to_csv)
            files.write("range_test_figure", FILES["range_test_figure"],
                        lambda p: save_figure(range_test.plot(bounds=bounds), p, dpi=110))
        files.write("figure", FILES["figure"], lambda p: save_figure(plot_reproduction(data), p, dpi=110))
        files.write("report", FILES["report"], lambda p: write_text(p, report_markdown(data)))
        files.write("results", FILES["results"], lambda p: write_text(p, json.dumps(data, indent=1) + "\n"))
    return {key: files.written[key] for key in FILES if key in files.written}


def report_markdown(results: Results) -> str:
    """The report: measured table and headline, definitions, setup, the paper's numbers (labelled), runtime.

    Args:
        results: what :func:`cyclr.reproduce.run_reproduction` returns (or ``results.json`` loaded).

    Returns:
        The Markdown text of report.md.

    Examples:
        >>> from types import SimpleNamespace
        >>> import numpy as np
        >>> from cyclr import Bounds
        >>> from cyclr.reproduce import POLICIES, make_plan, summarise
        >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=4, epochs=4, epochs_per_step=1)
        >>> rising = np.linspace(0.5, 0.9, len(plan.points))[None]  # one seed
        >>> curve = {"test": rising, "val": rising, "lr": np.full(rising.shape[1], 0.02), "diverged": np.zeros(1, bool)}
        >>> results = summarise(SimpleNamespace(name="toy", description="A toy task"), plan,
        ...                     Bounds(0.01, 0.04, "valley", "set by hand"), 0.02, {0.02: curve},
        ...                     dict.fromkeys(POLICIES, curve), seeds=[0])
        >>> results["command"] = "cyclr reproduce --task toy --seeds 1"
        >>> results["runtime_seconds"] = {"range_test": 1.0, "training": 2.0, "total": 3.0}
        >>> results["settings"] = {"epochs": 4, "epochs_per_step": 1, "range_test_epochs": 2,
        ...                        "iterations_per_epoch": 4, "batch_size": 8, "optimizer": "SGD(momentum=0.9)",
        ...                        "split_sizes": {"train": 32, "val": 16, "test": 16}}
        >>> report = report_markdown(results)
        >>> print(report.splitlines()[0])
        # CLR reproduction on `toy`
        >>> "## The paper's Table 1 (quoted, not measured here)" in report
        True

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    sections = (_result_section, _setup_section, _policies_section, _paper_section, _files_section, _runtime_section)
    return "\n".join(line for section in sections for line in section(results))


def print_summary(results: Results, paths: Mapping[str, Path], echo: Callable[[str], None] = print) -> None:
    """Print the terminal summary: bounds, the table, the headline, where the files are.

    Args:
        results: what :func:`cyclr.reproduce.run_reproduction` returns.
        paths: what :func:`write_outputs` returned.
        echo: prints one block of text (default: :func:`print`).

    Examples:
        >>> from types import SimpleNamespace
        >>> import numpy as np
        >>> from cyclr import Bounds
        >>> from cyclr.reproduce import POLICIES, make_plan, summarise
        >>> plan = make_plan(0.01, 0.04, iterations_per_epoch=4, epochs=4, epochs_per_step=1)
        >>> rising = np.linspace(0.5, 0.9, len(plan.points))[None]  # one seed
        >>> curve = {"test": rising, "val": rising, "lr": np.full(rising.shape[1], 0.02), "diverged": np.zeros(1, bool)}
        >>> results = summarise(SimpleNamespace(name="toy", description="A toy task"), plan,
        ...                     Bounds(0.01, 0.04, "valley", "set by hand"), 0.02, {0.02: curve},
        ...                     dict.fromkeys(POLICIES, curve), seeds=[0])
        >>> results["command"] = "cyclr reproduce --task toy --seeds 1"
        >>> results["runtime_seconds"] = {"range_test": 1.0, "training": 2.0, "total": 3.0}
        >>> results["settings"] = {"epochs": 4, "epochs_per_step": 1, "range_test_epochs": 2,
        ...                        "iterations_per_epoch": 4, "batch_size": 8, "optimizer": "SGD(momentum=0.9)",
        ...                        "split_sizes": {"train": 32, "val": 16, "test": 16}}
        >>> lines = []
        >>> print_summary(results, {"report": Path("out/report.md"), "results": Path("out/results.json")}, lines.append)
        >>> print(lines[0])
        toy: base_lr=0.01, max_lr=0.04, step size 4 iterations, fixed LR 0.02, 3 s
        >>> print(lines[-1])
        wrote out/report.md (with results.json)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """
    bounds = results["bounds"]
    echo(
        f"{results['task']}: base_lr={bounds['base_lr']:.4g}, max_lr={bounds['max_lr']:.4g}, step size "
        f"{results['step_size']} iterations, fixed LR {results['fixed_lr']:.4g}, "
        f"{results['runtime_seconds']['total']:.0f} s"
    )
    echo(summary_table(results))
    echo(headline(results))
    echo(f"wrote {paths['report']} (with {', '.join(p.name for k, p in paths.items() if k != 'report')})")


def _result_section(results: Results) -> list[str]:
    settings, seeds = results["settings"], results["seeds"]
    iterations, per_epoch = results["iterations"], settings["iterations_per_epoch"]
    test_size = settings["split_sizes"]["test"]
    is_loss = _is_loss(results)
    name = "loss" if is_loss else "accuracy"
    fmt = _metric(results)[1]
    test_set = f"the {test_size} test samples" if test_size else "the test batches"
    measured = (
        f"- *final test loss*: the criterion's mean over {test_set} after the last update, mean ± sample "
        f"standard deviation over the {len(seeds)} seeds."
        if is_loss
        else f"- *final test accuracy*: accuracy on {test_set} after the last update, mean ± sample "
        f"standard deviation over the {len(seeds)} seeds."
    )
    noise = (
        f"One test sample is worth {100 / test_size:.2f} points of accuracy, and the final accuracy of a single "
        f"seed moves by several tenths of a point from seed to seed: with {len(seeds)} seeds, differences of a few "
        "tenths are noise, and so is much of the spread in iterations to target once the curves flatten. "
        "More seeds (`--seeds 10`) give steadier numbers."
        if test_size and not is_loss
        else "The final values move from seed to seed; more seeds (`--seeds 10`) give steadier numbers."
    )
    batch = settings["batch_size"]
    return [
        f"# CLR reproduction on `{results['task']}`",
        "",
        (
            f"{results['task_description']}. {settings['optimizer']}, batch size {batch if batch else 'unknown'}, "
            f"{per_epoch} iterations per epoch; seeds {', '.join(map(str, seeds))}. Command: `{results['command']}`."
        ),
        "",
        "## Result (measured here)",
        "",
        summary_table(results),
        "",
        headline(results),
        "",
        (
            f"- *iterations*: optimizer updates each policy trained for, the same for all: {iterations:,} = "
            f"{iterations / per_epoch:g} epochs = {len(results['cycle_ends'])} cycles."
        ),
        measured,
        f"- *target*: the `fixed` policy's final test {name}, {fmt(results['target_accuracy'])}{'' if is_loss else '%'}.",
        (
            f"- *iterations to target*: the first evaluation (every {_every(results)} iterations, cycle ends included) "
            f"at which the policy's seed-mean test {name} reached the target{' (fell to it or below)' if is_loss else ''}."
        ),
        (
            "- *speedup vs fixed*: `fixed`'s iterations to target divided by the policy's; the headline speedup "
            f"({_ratio(results['speedup'], 'none')}) is that of the cyclic policy (triangular, triangular2, exp_range) "
            f"that reached the target first ({results['best_cyclic_policy'] or 'none did'})."
        ),
        (
            "- *speedup vs fixed_steps*: the same against the paper's own baseline, a constant LR with late drops "
            "(Table 1's \"fixed\"): `fixed_steps`' iterations to its own final "
            f"{name} divided by the policy's iterations to that level; for the headline policy "
            f"{_ratio(results.get('speedup_vs_fixed_steps'), 'none')}."
        ),
        "",
        noise,
        "",
    ]


def _setup_section(results: Results) -> list[str]:
    settings, bounds, step = results["settings"], results["bounds"], results["step_size"]
    label, fmt = _metric(results)
    name = label.removesuffix(" %")
    if bounds["method"] == "given":
        source = f"- Bounds given on the command line (`--bounds`), no range test: base_lr = {bounds['base_lr']:.4g}, "
        source += f"max_lr = {bounds['max_lr']:.4g}."
    else:
        source = (
            "- Range test: `cyclr.torch.LRFinder` in automatic mode (a coarse exponential sweep, then the paper's "
            f"linear sweep over {settings['range_test_epochs']} epochs, validation {name} measured about 50 times), "
            f"read by `result.suggest()`: base_lr = {bounds['base_lr']:.4g}, max_lr = {bounds['max_lr']:.4g}. "
            f"Reading ({bounds['method']}): {bounds['explanation']}."
        )
    return [
        "## Setup",
        "",
        source,
        *(f"- Range-test warning: {warning}" for warning in bounds["warnings"]),
        (
            f"- Step size: {step} iterations = {settings['epochs_per_step']:g} epochs (the paper recommends 2-10); "
            f"one cycle is {2 * step} iterations."
        ),
        (
            f"- gamma = {results['gamma']:.6f}: exp_range's amplitude and exp's LR fall to 1.5% by the end of the "
            "budget, as the paper's gamma = 0.99994 does over its 70,000 iterations."
        ),
        (
            "- `fixed` is the constant LR of this grid (one below base_lr, the bounds, their geometric mean, one "
            f"above max_lr) with the best final validation {name}, mean over seeds; the test split played no part "
            "in the choice:"
        ),
        "",
        f"| constant LR | final val {label} | final test {label} | |",
        "|---:|---:|---:|---|",
        *(
            f"| {row['lr']:.4g} | {fmt(row['val_accuracy_mean'])} | {fmt(row['test_accuracy_mean'])} | "
            + ("chosen |" if row["lr"] == results["fixed_lr"] else "|")
            for row in results["fixed_lr_grid"]
        ),
        "",
    ]


def _policies_section(results: Results) -> list[str]:
    ends = results["cycle_ends"]
    label, fmt = _metric(results)
    return [
        "Policies, all trained from the same initial weights and batch order per seed:",
        "",
        *(f"- `{name}`: {entry['definition']}." for name, entry in results["policies"].items()),
        "",
        f"Seed-mean test {label.replace(' %', ' (%)')} at each cycle end, where the cyclic LRs are back at base_lr:",
        "",
        "| policy | " + " | ".join(f"it. {end:,}" for end in ends) + " |",
        "|---|" + "---:|" * len(ends),
        *(
            f"| {name} | " + " | ".join(fmt(a) for a in entry["accuracy_at_cycle_ends"]) + " |"
            for name, entry in results["policies"].items()
        ),
        "",
    ]


def _paper_section(results: Results) -> list[str]:
    return [
        "## The paper's Table 1 (quoted, not measured here)",
        "",
        (
            "Smith (WACV 2017), CIFAR-10 with Caffe's \"quick\" network. Its `fixed` is Caffe's schedule (0.001, "
            "x0.1 at 60,000 and 65,000 iterations), not a constant chosen on a grid as ours is."
        ),
        "",
        "| policy (paper) | iterations (paper) | accuracy (paper) |",
        "|---|---:|---:|",
        *(f"| {policy} | {iterations} | {accuracy} |" for policy, iterations, accuracy in PAPER_TABLE_1),
        "",
        (
            f"There, triangular2 matched the fixed schedule's 81.4% in 25,000 instead of 70,000 iterations "
            f"({PAPER_RATIO}x)."
        ),
        "",
    ]


def _files_section(results: Results) -> list[str]:
    name = _metric(results)[0].removesuffix(" %")
    range_test = [
        (
            f"- `{FILES['range_test_figure']}`: the range test's training loss and validation {name} against "
            "learning rate, with the bounds used shaded."
        ),
        f"- `{FILES['range_test_json']}`, `{FILES['range_test_csv']}`: the range test's curve.",
    ]
    return [
        "## Files",
        "",
        (
            f"- `{FILES['figure']}`: seed-mean test {name} against iteration for every policy (band: ± one standard "
            "deviation over seeds; dashed line: the target; dotted: cycle ends), with each policy's learning rate "
            "against iteration beneath."
        ),
        *(range_test if results["bounds"]["method"] != "given" else []),
        f"- `{FILES['results']}`: every number in this report, with the per-seed curves.",
        "",
    ]


def _runtime_section(results: Results) -> list[str]:
    runtime, seeds = results["runtime_seconds"], results["seeds"]
    return [
        "## Runtime",
        "",
        (
            f"{runtime['total']:.0f} s in all on this machine: range test {runtime['range_test']:.0f} s, then "
            f"{len(results['fixed_lr_grid']) + len(results['policies']) - 1} LR schedules x {len(seeds)} seeds "
            f"of {results['iterations']:,} iterations in {runtime['training']:.0f} s."
        ),
        "",
    ]


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _is_loss(results: Results) -> bool:
    return bool((results.get("metric") or {}).get("name") == "loss")


def _metric(results: Results) -> tuple[str, Callable[[float], str]]:
    """The metric's column label and its formatter: accuracy in %, or the loss as it is."""
    if _is_loss(results):
        return "loss", lambda value: f"{value:.4g}"
    return "accuracy %", _pct


def _ratio(value: float | None, missing: str) -> str:
    return missing if value is None else f"{value:.2f}x"


def _every(results: Mapping[str, Any]) -> int:
    points = results["policies"]["fixed"]["curve"]["iterations"]
    return int(points[1] - points[0]) if len(points) > 1 else int(results["iterations"])
