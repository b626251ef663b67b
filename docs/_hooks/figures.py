"""MkDocs hook: draw the documentation's figures from code before each build.

Every PNG under ``docs/generated/`` (git-ignored) comes from a function below:
the policy gallery from cyclr's schedules, the range-test figures from a real
range test on scikit-learn's bundled digits with ``cyclr.torch.LRFinder``.
The pages include the code between the ``--8<--`` markers, so what a page
shows is what drew its figure.

The figures are redrawn only when this file or the cyclr modules they depend
on change (a hash in ``docs/generated/.stamp``), so ``mkdocs serve`` does not
re-run the range test on every reload.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
OUT = DOCS / "generated"
STAMP = OUT / ".stamp"
# The figures depend on these besides this file.
SOURCES = [
    "src/cyclr/schedules.py",
    "src/cyclr/plot.py",
    "src/cyclr/suggest.py",
    "src/cyclr/rangetest.py",
    "src/cyclr/torch/finder.py",
]
DPI = 100

log = logging.getLogger("mkdocs.hooks.figures")


def on_pre_build(config, **kwargs):
    """Render the figures into docs/generated/ unless they are up to date."""
    key = _source_hash()
    expected = [OUT / f"{name}.png" for name in FIGURES] + [OUT / name for name in TEXTS]
    if STAMP.is_file() and STAMP.read_text() == key and all(p.is_file() for p in expected):
        return
    started = time.perf_counter()
    src = str(ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)  # document this checkout's cyclr, not an installed one
    import matplotlib

    matplotlib.use("Agg")
    OUT.mkdir(exist_ok=True)
    for name, draw in FIGURES.items():
        fig = draw()
        _save(fig, OUT / f"{name}.png")
    for name, text in _range_test_texts().items():
        (OUT / name).write_text(text)
    STAMP.write_text(key)
    log.info("figures: drew %d figures in %.1f s", len(FIGURES), time.perf_counter() - started)


def _source_hash() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for rel in SOURCES:
        path = ROOT / rel
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()


def _save(fig, path: Path) -> None:
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=DPI)
    tmp.replace(path)


# --- the policy gallery ----------------------------------------------------------


def policies():
    # --8<-- [start:policies]
    import cyclr
    from cyclr.plot import plot_schedules

    schedules = {
        "triangular: constant amplitude": cyclr.CyclicSchedule(0.001, 0.006, step_size_up=2000),
        "triangular2: amplitude halved every cycle": cyclr.CyclicSchedule(
            0.001, 0.006, step_size_up=2000, mode="triangular2"
        ),
        "exp_range: amplitude times gamma**iteration (gamma=0.99994)": cyclr.CyclicSchedule(
            0.001, 0.006, step_size_up=2000, mode="exp_range", gamma=0.99994
        ),
    }
    fig = plot_schedules(schedules, iterations=20_000, momentum=None, title="The paper's three policies")
    # --8<-- [end:policies]
    return fig


def asymmetric():
    # --8<-- [start:asymmetric]
    import cyclr
    from cyclr.plot import plot_schedules

    schedules = {
        "step_size_up=500, step_size_down=1500: quick rise, slow fall": cyclr.CyclicSchedule(
            0.001, 0.006, step_size_up=500, step_size_down=1500
        ),
        "step_size_up=1500, step_size_down=500: slow rise, quick fall": cyclr.CyclicSchedule(
            0.001, 0.006, step_size_up=1500, step_size_down=500
        ),
    }
    fig = plot_schedules(schedules, iterations=8000, momentum=None, title="Asymmetric cycles (2,000 iterations each)")
    # --8<-- [end:asymmetric]
    return fig


def scale_fn():
    # --8<-- [start:scale_fn]
    import math

    import cyclr
    from cyclr.plot import plot_schedules

    def half_sine(cycle):
        """Amplitude 1, 0.5, 0, 0.5, 1, ... over cycles 1, 2, 3, ...: PyTorch's documented example."""
        return 0.5 * (1 + math.sin(cycle * math.pi / 2))

    def linear_fade(iteration):
        """Amplitude falling linearly from 1 to 0 over 20,000 iterations."""
        return max(0.0, 1 - iteration / 20_000)

    schedules = {
        "scale_fn=half_sine, scale_mode='cycle' (a function of the cycle number)": cyclr.CyclicSchedule(
            0.001, 0.006, step_size_up=1000, scale_fn=half_sine, scale_mode="cycle"
        ),
        "scale_fn=linear_fade, scale_mode='iterations' (a function of the iteration)": cyclr.CyclicSchedule(
            0.001, 0.006, step_size_up=1000, scale_fn=linear_fade, scale_mode="iterations"
        ),
    }
    fig = plot_schedules(schedules, iterations=20_000, momentum=None, title="Custom scale functions")
    # --8<-- [end:scale_fn]
    return fig


def shapes():
    # --8<-- [start:shapes]
    import numpy as np
    from matplotlib.figure import Figure

    import cyclr

    iterations = np.arange(8000)
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    for shape, style in (("triangular", "-"), ("welch", "--"), ("hann", ":")):
        schedule = cyclr.CyclicSchedule(0.001, 0.006, step_size_up=2000, shape=shape)
        ax.plot(iterations, schedule(iterations), style, lw=1.8, label=f'shape="{shape}"')
    ax.set(xlabel="iteration", ylabel="learning rate", title="Wave shapes: same bounds, same period")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    # --8<-- [end:shapes]
    return fig


def momentum():
    # --8<-- [start:momentum]
    import cyclr
    from cyclr.plot import plot_schedules

    schedule = cyclr.CyclicSchedule(0.001, 0.006, step_size_up=2000, mode="triangular2")
    fig = plot_schedules(
        {"triangular2, momentum cycled between 0.8 and 0.9": schedule},
        iterations=12_000,
        momentum=(0.8, 0.9),  # (base_momentum, max_momentum)
        title="Momentum (dashed, right axis) is high when the LR is low",
    )
    # --8<-- [end:momentum]
    return fig


def one_cycle():
    # --8<-- [start:one_cycle]
    import cyclr
    from cyclr.plot import plot_schedules

    schedules = {
        "1cycle, cosine annealing (the defaults)": cyclr.OneCycleSchedule(max_lr=0.1, total_steps=10_000),
        "anneal_strategy='linear', three_phase=True": cyclr.OneCycleSchedule(
            max_lr=0.1, total_steps=10_000, anneal_strategy="linear", three_phase=True
        ),
    }
    fig = plot_schedules(schedules, iterations=10_001, momentum=(0.85, 0.95), title="1cycle (momentum dashed)")
    # --8<-- [end:one_cycle]
    return fig


def range_sweep():
    # --8<-- [start:range_sweep]
    import numpy as np
    from matplotlib.figure import Figure

    import cyclr

    linear = cyclr.RangeSweep(start_lr=0.0, end_lr=0.02, num_iter=800)  # the paper's sweep
    coarse = cyclr.RangeSweep(start_lr=1e-7, end_lr=10.0, num_iter=100, step_mode="exp")
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    steps = np.arange(linear.num_iter)
    left.plot(steps, linear(steps), lw=1.8)
    left.set(title='step_mode="linear": 0 to 0.02 in 800 steps', xlabel="step", ylabel="learning rate")
    steps = np.arange(coarse.num_iter)
    right.semilogy(steps, coarse(steps), lw=1.8, color="tab:green")
    right.set(title='step_mode="exp": 1e-7 to 10 in 100 steps', xlabel="step", ylabel="learning rate (log)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle("The range test's LR sweeps")
    # --8<-- [end:range_sweep]
    return fig


# --- the range test on digits ------------------------------------------------------

_RUNS = {}


def digits_range_test(kind):
    """``"paper"``: the paper's linear sweep; ``"auto"``: the default two-stage test. Run once per build."""
    if kind not in _RUNS:
        import torch

        torch.set_num_threads(1)  # a tiny model: one thread is fastest, and leaves the other cores alone
        _RUNS[kind] = _paper_sweep() if kind == "paper" else _automatic()
    return _RUNS[kind]


def _paper_sweep():
    # --8<-- [start:digits_range_test]
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from cyclr.torch import LRFinder

    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)  # 1,797 real 8x8 digits, bundled with scikit-learn
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=300, random_state=0)

    def loader(x, y, shuffle):
        data = TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
        return DataLoader(data, batch_size=16, shuffle=shuffle)

    train_loader, val_loader = loader(x_train, y_train, True), loader(x_val, y_val, False)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), progress=False)
    result = finder.range_test(
        train_loader,
        val_loader,
        start_lr=0.0,  # the paper's sweep: linear from 0 ...
        end_lr=0.2,  # ... to a clearly too high LR ...
        num_iter=12 * len(train_loader),  # ... over 12 epochs
        val_every=len(train_loader) // 4,  # validation accuracy 4 times an epoch
        val_batches=None,  # on the whole validation split
    )
    bounds = result.suggest()
    fig = result.plot()
    # --8<-- [end:digits_range_test]
    return result


def _automatic():
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from cyclr.torch import LRFinder

    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=300, random_state=0)

    def loader(x, y, shuffle):
        data = TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
        return DataLoader(data, batch_size=16, shuffle=shuffle)

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    # --8<-- [start:digits_automatic]
    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), progress=False)
    result = finder.range_test(loader(x_train, y_train, True), loader(x_val, y_val, False))
    fig = result.plot()  # the linear sweep, and the coarse exponential sweep that chose its range
    # --8<-- [end:digits_automatic]
    return result


def range_test_paper():
    return digits_range_test("paper").plot()


def range_test_auto():
    return digits_range_test("auto").plot()


def range_test_readings():
    """The paper's reading (validation accuracy) next to the three loss readings, on the same run."""
    import numpy as np
    from matplotlib.figure import Figure

    from cyclr.suggest import smooth

    result = digits_range_test("paper")
    paper = result.suggest()
    loss_readings = {m: result.suggest(m) for m in ("valley", "steepest", "min_div10")}
    styles = {"valley": ("tab:red", "--"), "steepest": ("tab:purple", "-."), "min_div10": ("tab:brown", ":")}

    fig = Figure(figsize=(9, 6.4), layout="constrained")
    acc, loss = fig.subplots(2, 1, sharex=True)
    lrs = result.metric_lrs
    accuracy = 100 * result.metrics["val_accuracy"]
    acc.plot(lrs, accuracy, "o-", ms=3, lw=1, color="tab:green", label="val_accuracy (measured)")
    acc.plot(lrs, smooth(accuracy), lw=2, color="tab:green", alpha=0.5, label="val_accuracy, smoothed (read)")
    acc.axvspan(paper.base_lr, paper.max_lr, color="tab:orange", alpha=0.2, lw=0,
                label=f"paper's reading: base_lr={paper.base_lr:.3g}, max_lr={paper.max_lr:.3g}")
    peak = paper.details["peak_lr"]
    acc.axvline(peak, color="0.4", lw=1, ls="--", label=f"accuracy peak {peak:.3g} (too high as max_lr)")
    acc.set(ylabel="validation accuracy (%)", title="The paper's reading: validation accuracy against LR")

    centred = smooth(result.losses)
    loss.plot(result.lrs, result.losses, color="tab:blue", alpha=0.25, lw=0.8, label="training loss")
    loss.plot(result.lrs, centred, color="tab:blue", lw=1.8, label="training loss, smoothed (read)")
    for method, bounds in loss_readings.items():
        color, ls = styles[method]
        loss.axvline(bounds.max_lr, color=color, ls=ls, lw=1.6, label=f"{method}: max_lr={bounds.max_lr:.3g}")
    loss.axvspan(paper.base_lr, paper.max_lr, color="tab:orange", alpha=0.2, lw=0)
    finite = centred[np.isfinite(centred)]
    loss.set_ylim(0, 1.3 * float(finite[: max(1, finite.size // 10)].mean()))
    loss.set(xlabel="learning rate (linear sweep)", ylabel="training loss",
             title="The loss readings: one LR each, used as max_lr (base_lr = max_lr / 4)")
    for ax in (acc, loss):
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle("Range test on digits: where each method reads its bounds", fontsize=11)
    return fig


def _range_test_texts():
    result = digits_range_test("paper")
    lines = [f">>> result\n{result!r}", f">>> print(result.suggest())\n{result.suggest()}"]
    for method in ("valley", "steepest", "min_div10"):
        lines.append(f'>>> print(result.suggest("{method}"))\n{result.suggest(method)}')
    auto = digits_range_test("auto")
    automatic = [f">>> result\n{auto!r}", f">>> result.coarse\n{auto.coarse!r}", f">>> print(result.suggest())\n{auto.suggest()}"]
    return {"range-test-paper.txt": "\n\n".join(lines) + "\n", "range-test-auto.txt": "\n\n".join(automatic) + "\n"}


FIGURES = {
    "gallery-policies": policies,
    "gallery-asymmetric": asymmetric,
    "gallery-scale-fn": scale_fn,
    "gallery-shapes": shapes,
    "gallery-momentum": momentum,
    "gallery-one-cycle": one_cycle,
    "gallery-range-sweep": range_sweep,
    "range-test-paper": range_test_paper,
    "range-test-readings": range_test_readings,
    "range-test-auto": range_test_auto,
}
TEXTS = ("range-test-paper.txt", "range-test-auto.txt")
