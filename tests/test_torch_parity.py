"""Drop-in parity: every argument set PyTorch's CyclicLR / OneCycleLR accept, cyclr accepts with the same values.

For each set both schedulers are built on equal optimizers and stepped side by
side: either both raise at the same step (cyclr with ValueError or TypeError,
whatever PyTorch raises), or both give identical LR and momentum sequences
(``==`` on floats). Values PyTorch accepts but that are most likely mistakes
warn in cyclr; the sets marked ``warns`` check that.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as torch_sched

import cyclr.torch as ct


def optimizer(kind: str = "sgd", groups: int = 2) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.1} for _ in range(groups)]
    if kind == "adam":
        return torch.optim.Adam(params, lr=0.1)
    if kind == "adagrad":
        return torch.optim.Adagrad(params, lr=0.1)
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def snapshot(opt: torch.optim.Optimizer) -> tuple[Any, ...]:
    return tuple(
        (g["lr"], g["betas"][0] if "betas" in g else g.get("momentum")) for g in opt.param_groups
    )


def run(cls: type, kwargs: dict[str, Any], kind: str, steps: int) -> tuple[list[Any], list[str]]:
    """The sequence of snapshots, ending in ("raise", step, error type) if the scheduler raised; and the warnings."""
    opt = optimizer(kind)
    out: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sched = cls(opt, **kwargs)
        except Exception as err:  # noqa: BLE001 - which errors is what is compared
            return [("raise", 0, type(err))], [str(w.message) for w in caught]
    out.append(snapshot(opt))
    for step in range(1, steps + 1):
        opt.step()
        try:
            sched.step()
        except Exception as err:  # noqa: BLE001
            out.append(("raise", step, type(err)))
            break
        out.append(snapshot(opt))
    return out, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def scale_half(x: float) -> float:
    return 0.5**x


# (kwargs, optimizer kind, warns): three cycles of step_size_up + step_size_down
CYCLIC_SETS = [
    # PyTorch's own unit tests use readable bounds: lr 1..5, momentum 1..5
    (dict(base_lr=1, max_lr=5, step_size_up=4, base_momentum=1, max_momentum=5), "sgd", "max_momentum=5"),
    (dict(base_lr=1, max_lr=5, step_size_up=4, mode="triangular2", base_momentum=1, max_momentum=5), "sgd", "max_momentum=5"),
    (dict(base_lr=1, max_lr=5, step_size_up=4, mode="exp_range", gamma=0.65, base_momentum=1, max_momentum=5), "sgd", "max_momentum=5"),
    (dict(base_lr=1, max_lr=5, step_size_up=4, step_size_down=6, base_momentum=1, max_momentum=5), "adam", "max_momentum=5"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, base_momentum=0.95, max_momentum=0.85), "sgd", "base_momentum=0.95"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, base_momentum=0.95, max_momentum=0.85), "adam", "base_momentum=0.95"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, base_momentum=-0.5), "sgd", "base_momentum=-0.5"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=1.05), "sgd", "gamma=1.05"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.0), "sgd", "gamma=0.0"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=-0.5), "sgd", "gamma=-0.5"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, gamma=7.0), "sgd", None),  # gamma unused by triangular
    (dict(base_lr=0.1, max_lr=0.01, step_size_up=3), "sgd", "max_lr=0.01 is below base_lr=0.1"),
    (dict(base_lr=-0.01, max_lr=0.1, step_size_up=3), "sgd", "base_lr=-0.01"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=0), "sgd", None),  # a sawtooth
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=-3), "sgd", "negative step size"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=-3), "sgd", "negative step size"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=2.5, step_size_down=1.5), "sgd", None),
    (dict(base_lr=0.0, max_lr=0.0, step_size_up=3), "sgd", None),
    (dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.05], step_size_up=3, base_momentum=[0.8, 0.7]), "sgd", None),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="custom", scale_fn=scale_half, scale_mode="iterations"), "sgd", None),
    (dict(base_lr=np.float64(0.01), max_lr=np.float64(0.1), step_size_up=np.int64(3)), "sgd", None),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False), "adagrad", None),
    # PyTorch raises (or divides by zero) on these; so does cyclr, with ValueError/TypeError
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=0), "sgd", None),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=0, step_size_down=4), "sgd", None),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=-5), "sgd", None),
    (dict(base_lr=0.1, max_lr=1.0, step_size_up=1e308, step_size_down=1e308), "sgd", None),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="bogus"), "sgd", None),
    (dict(base_lr=[0.01, 0.02, 0.03], max_lr=0.1, step_size_up=3), "sgd", None),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3), "adagrad", None),
]

# (kwargs, optimizer kind, warns): total_steps + 1 steps, one past PyTorch's last allowed step
ONE_CYCLE_SETS = [
    (dict(max_lr=0.1, total_steps=10), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, pct_start=0.0), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, pct_start=0.0, three_phase=True), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, pct_start=1.0), "sgd", None),  # PyTorch divides by zero at step 10
    (dict(max_lr=0.1, total_steps=5, pct_start=0.6, three_phase=True), "sgd", None),  # ditto at step 5
    (dict(max_lr=0.1, total_steps=10, pct_start=0.7, three_phase=True, anneal_strategy="linear"), "adam", None),
    (dict(max_lr=0.1, total_steps=10, three_phase=1), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, three_phase=0), "adam", None),
    (dict(max_lr=0.1, total_steps=10, base_momentum=1, max_momentum=5), "sgd", "max_momentum=5"),
    (dict(max_lr=0.1, total_steps=10, base_momentum=0.95, max_momentum=0.85), "adam", "base_momentum=0.95"),
    (dict(max_lr=0.1, total_steps=1), "sgd", None),
    (dict(max_lr=0.1, total_steps=2, three_phase=True), "sgd", None),
    (dict(max_lr=0.0, total_steps=10), "sgd", None),
    (dict(max_lr=-0.1, total_steps=10), "sgd", "max_lr=-0.1"),
    (dict(max_lr=0.1, total_steps=10, div_factor=-2.0), "sgd", "div_factor=-2.0"),
    (dict(max_lr=0.1, total_steps=10, div_factor=0.5, final_div_factor=0.1), "sgd", None),
    (dict(max_lr=[0.1, 0.3], epochs=3, steps_per_epoch=4, anneal_strategy="linear"), "adam", None),
    (dict(max_lr=0.1, total_steps=10, pct_start=np.float64(0.25), cycle_momentum=False), "adagrad", None),
    # PyTorch raises (or divides by zero) on these; so does cyclr, with ValueError/TypeError
    (dict(max_lr=0.1, total_steps=10, pct_start=0.1), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, div_factor=0), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, final_div_factor=0.0), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, pct_start=1.5), "sgd", None),
    (dict(max_lr=0.1, total_steps=0), "sgd", None),
    (dict(max_lr=0.1, total_steps=10.0), "sgd", None),
    (dict(max_lr=0.1, total_steps="10"), "sgd", None),
    (dict(max_lr=0.1, total_steps=10, anneal_strategy="exp"), "sgd", None),
    (dict(max_lr=0.1), "sgd", None),
    (dict(max_lr=0.1, epochs=0, steps_per_epoch=4), "sgd", None),
    (dict(max_lr=[0.1], total_steps=10), "sgd", None),
    (dict(max_lr=0.1, total_steps=10), "adagrad", None),
]


def assert_same(ours: list[Any], theirs: list[Any]) -> None:
    if theirs[-1][0] == "raise":
        assert ours[-1][0] == "raise", f"PyTorch raises {theirs[-1]}, cyclr does not"
        assert ours[-1][1] == theirs[-1][1], f"cyclr raises at step {ours[-1][1]}, PyTorch at {theirs[-1][1]}"
        assert issubclass(ours[-1][2], (ValueError, TypeError)), ours[-1]
    assert ours[:-1] == theirs[:-1]
    if theirs[-1][0] != "raise":
        assert ours[-1] == theirs[-1]


def check_warnings(messages: list[str], warns: str | None) -> None:
    ours = [m for m in messages if "optimizer.step()" not in m]
    if warns is None:
        assert ours == []
    else:
        assert any(warns in m for m in ours), ours


@pytest.mark.parametrize(("kwargs", "kind", "warns"), CYCLIC_SETS)
def test_cyclic_lr_is_a_drop_in(kwargs, kind, warns):
    up = kwargs.get("step_size_up", 2000)
    down = kwargs.get("step_size_down", up)
    steps = int(min(3 * abs(up + down), 60)) if abs(up + down) < 1e300 else 3
    theirs, _ = run(torch_sched.CyclicLR, kwargs, kind, steps)
    ours, messages = run(ct.CyclicLR, kwargs, kind, steps)
    assert_same(ours, theirs)
    if ours[-1][0] != "raise":
        check_warnings(messages, warns)


@pytest.mark.parametrize(("kwargs", "kind", "warns"), ONE_CYCLE_SETS)
def test_one_cycle_lr_is_a_drop_in(kwargs, kind, warns):
    total = kwargs.get("total_steps") or 12
    steps = total + 1 if isinstance(total, int) else 3
    theirs, _ = run(torch_sched.OneCycleLR, kwargs, kind, steps)
    ours, messages = run(ct.OneCycleLR, kwargs, kind, steps)
    assert_same(ours, theirs)
    if ours[0][0] != "raise":
        check_warnings(messages, warns)


# cyclr is more lenient than PyTorch only in the type of a number: these give PyTorch's values for the
# float / int PyTorch wants (PyTorch itself raises "Expected float between 0 and 1 pct_start" and the like)
LENIENT = [
    (dict(max_lr=0.1, total_steps=10, pct_start=0), dict(max_lr=0.1, total_steps=10, pct_start=0.0)),
    (dict(max_lr=0.1, total_steps=10, pct_start=1), dict(max_lr=0.1, total_steps=10, pct_start=1.0)),
    (dict(max_lr=0.1, total_steps=np.int64(10)), dict(max_lr=0.1, total_steps=10)),
    (dict(max_lr=0.1, total_steps=10, pct_start=np.float32(0.25)), dict(max_lr=0.1, total_steps=10, pct_start=0.25)),
]


@pytest.mark.parametrize(("ours_kwargs", "torch_kwargs"), LENIENT)
def test_one_cycle_accepts_any_real_type_with_torchs_values(ours_kwargs, torch_kwargs):
    assert run(torch_sched.OneCycleLR, ours_kwargs, "sgd", 3)[0][0][0] == "raise"
    theirs, _ = run(torch_sched.OneCycleLR, torch_kwargs, "sgd", 11)
    ours, _ = run(ct.OneCycleLR, ours_kwargs, "sgd", 11)
    assert_same(ours, theirs)


def test_exp_range_growth_overflow_is_a_value_error_at_the_step():
    # gamma > 1 warns; PyTorch raises OverflowError once gamma**step leaves the float range, cyclr ValueError
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=1e100)
    theirs, _ = run(torch_sched.CyclicLR, kwargs, "sgd", 6)
    ours, _ = run(ct.CyclicLR, kwargs, "sgd", 6)
    assert theirs[-1][0] == "raise"
    assert_same(ours, theirs)
