"""Cost of cyclr.torch.CyclicLR.step() vs torch's CyclicLR, and vectorised core evaluation.

Prints ratios measured side by side in one run (best of several repeats).
Run: python benchmarks/bench_schedulers.py
"""

from __future__ import annotations

import math
import re
import timeit
import warnings

import numpy as np
import torch
from torch.optim.lr_scheduler import CyclicLR as TorchCyclicLR
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

import cyclr
import cyclr.torch as ct

STEPS = 20_000
REPEATS = 5


def make_optimizer(groups: int) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)]
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def time_steps(factory, steps: int = STEPS) -> float:
    """Best-of-REPEATS seconds per scheduler.step() (the optimizer step is not timed)."""
    best = math.inf
    for _ in range(REPEATS):
        sched = factory()
        step = sched.step
        best = min(best, timeit.timeit(step, number=steps) / steps)
    return best


def main() -> None:
    warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()`"))
    print(f"torch {torch.__version__}, {STEPS} steps, best of {REPEATS}")
    print(f"{'case':44s} {'cyclr us':>9s} {'torch us':>9s} {'cyclr/torch':>11s}")
    cases = [
        ("CyclicLR triangular, 1 group", dict(base_lr=1e-3, max_lr=6e-3, step_size_up=2000), 1),
        ("CyclicLR exp_range, 1 group", dict(base_lr=1e-3, max_lr=6e-3, mode="exp_range", gamma=0.9999), 1),
        ("CyclicLR triangular2, 4 groups", dict(base_lr=1e-3, max_lr=6e-3, mode="triangular2"), 4),
        ("CyclicLR no momentum, 1 group", dict(base_lr=1e-3, max_lr=6e-3, cycle_momentum=False), 1),
    ]
    for name, kwargs, groups in cases:
        ours = time_steps(lambda: ct.CyclicLR(make_optimizer(groups), **kwargs))
        theirs = time_steps(lambda: TorchCyclicLR(make_optimizer(groups), **kwargs))
        print(f"{name:44s} {ours * 1e6:9.2f} {theirs * 1e6:9.2f} {ours / theirs:11.2f}")
    one_cycle = dict(max_lr=0.1, total_steps=STEPS + 1)
    ours = time_steps(lambda: ct.OneCycleLR(make_optimizer(1), **one_cycle))
    theirs = time_steps(lambda: TorchOneCycleLR(make_optimizer(1), **one_cycle))
    print(f"{'OneCycleLR cos, 1 group':44s} {ours * 1e6:9.2f} {theirs * 1e6:9.2f} {ours / theirs:11.2f}")

    sched = cyclr.CyclicSchedule(1e-3, 6e-3, step_size_up=2000, mode="exp_range", gamma=0.99999, shape="hann")
    its = np.arange(1_000_000)
    vectorised = min(timeit.repeat(lambda: sched(its), number=1, repeat=REPEATS))
    loop_points = 20_000
    scalar = min(timeit.repeat(lambda: [sched(i) for i in range(loop_points)], number=1, repeat=3)) / loop_points
    print(f"core, 1,000,000 iterations as one array: {vectorised * 1e3:.1f} ms "
          f"({vectorised / 1e6 * 1e9:.1f} ns/point); scalar calls: {scalar * 1e9:.0f} ns/point; "
          f"vectorised/scalar per point: {vectorised / 1e6 / scalar:.3f}")


if __name__ == "__main__":
    main()
