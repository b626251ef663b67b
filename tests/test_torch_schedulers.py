"""cyclr.torch.CyclicLR / OneCycleLR against PyTorch's own classes, bit for bit."""

from __future__ import annotations

import dataclasses
import io
import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as torch_sched

import cyclr
import cyclr.torch as ct
from cyclr.suggest import Bounds


def make_optimizer(kind: str = "sgd", groups: int = 1, lr: float = 0.1) -> torch.optim.Optimizer:
    torch.manual_seed(0)
    params = [{"params": [torch.nn.Parameter(torch.randn(3))], "lr": lr * (i + 1)} for i in range(groups)]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if kind == "sgd_plain":
        return torch.optim.SGD(params, lr=lr)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr)
    if kind == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    raise AssertionError(kind)


def momentum_of(group: dict) -> float:
    return group["betas"][0] if "betas" in group else group["momentum"]


def run_pair(ours, theirs, steps: int) -> None:
    """Step both schedulers and require identical LRs and momenta at every step."""
    for step in range(steps):
        assert ours.get_last_lr() == theirs.get_last_lr(), f"lr differs at step {step}"
        for a, b in zip(ours.optimizer.param_groups, theirs.optimizer.param_groups):
            assert a["lr"] == b["lr"]
            if "momentum" in a or "betas" in a:
                assert momentum_of(a) == momentum_of(b), f"momentum differs at step {step}"
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()


CYCLIC_CONFIGS = [
    dict(base_lr=0.001, max_lr=0.006, step_size_up=5),
    dict(base_lr=0.001, max_lr=0.006, step_size_up=5, mode="triangular2"),
    dict(base_lr=0.001, max_lr=0.006, step_size_up=5, mode="exp_range", gamma=0.97),
    dict(base_lr=0.001, max_lr=0.1, step_size_up=3, step_size_down=11),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=7, step_size_down=2, mode="triangular2"),
    dict(base_lr=[0.001, 0.002], max_lr=[0.01, 0.03], step_size_up=4, mode="exp_range", gamma=0.9),
    dict(base_lr=0.001, max_lr=0.006, step_size_up=4, base_momentum=[0.7, 0.75], max_momentum=[0.9, 0.95]),
    dict(base_lr=0.001, max_lr=0.006, step_size_up=5, cycle_momentum=False),
    dict(base_lr=0.001, max_lr=0.006, step_size_up=5, scale_fn=lambda c: 1 / c),
    dict(base_lr=0.001, max_lr=0.006, step_size_up=5, scale_fn=lambda i: 0.99**i, scale_mode="iterations"),
    dict(base_lr=0.001, max_lr=0.006),  # the defaults
]


@pytest.mark.parametrize("kwargs", CYCLIC_CONFIGS)
@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw"])
def test_cyclic_matches_torch(kwargs, kind):
    groups = 2
    if not kwargs.get("cycle_momentum", True) or kind != "sgd":
        kwargs = {**kwargs}
    ours = ct.CyclicLR(make_optimizer(kind, groups), **kwargs)
    theirs = torch_sched.CyclicLR(make_optimizer(kind, groups), **kwargs)
    run_pair(ours, theirs, steps=60)


def test_cyclic_matches_torch_over_a_long_run_and_without_momentum_optimizer():
    kwargs = dict(base_lr=1e-4, max_lr=3e-3, step_size_up=2000, mode="exp_range", gamma=0.99994, cycle_momentum=False)
    ours = ct.CyclicLR(make_optimizer("sgd_plain"), **kwargs)
    theirs = torch_sched.CyclicLR(make_optimizer("sgd_plain"), **kwargs)
    for _ in range(10_000):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()


@settings(max_examples=25, deadline=None)
@given(
    st.floats(1e-5, 1e-2),
    st.floats(1.0, 50.0),
    st.integers(1, 40),
    st.one_of(st.none(), st.integers(1, 40)),
    st.sampled_from(["triangular", "triangular2", "exp_range"]),
    st.floats(0.8, 1.0),
)
def test_cyclic_matches_torch_property(base, ratio, up, down, mode, gamma):
    kwargs = dict(base_lr=base, max_lr=base * ratio, step_size_up=up, step_size_down=down, mode=mode, gamma=gamma)
    run_pair(ct.CyclicLR(make_optimizer(), **kwargs), torch_sched.CyclicLR(make_optimizer(), **kwargs), steps=90)


def test_cyclic_is_a_real_torch_scheduler():
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006)
    assert isinstance(sched, torch_sched.LRScheduler)
    assert sched.get_last_lr() == [0.001]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_resumes_from_state_dict_mid_cycle(kind, mode):
    kwargs = dict(base_lr=[0.001, 0.002], max_lr=[0.01, 0.02], step_size_up=6, mode=mode, gamma=0.95)
    reference = torch_sched.CyclicLR(make_optimizer(kind, 2), **kwargs)
    first = ct.CyclicLR(make_optimizer(kind, 2), **kwargs)
    for _ in range(17):
        first.optimizer.step()
        first.step()
        reference.optimizer.step()
        reference.step()
    buffer = io.BytesIO()
    torch.save({"opt": first.optimizer.state_dict(), "sched": first.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    optimizer = make_optimizer(kind, 2)
    resumed = ct.CyclicLR(optimizer, **kwargs)
    optimizer.load_state_dict(saved["opt"])
    resumed.load_state_dict(saved["sched"])
    run_pair(resumed, reference, steps=30)


def test_cyclic_resumes_with_last_epoch():
    kwargs = dict(base_lr=0.001, max_lr=0.006, step_size_up=5, mode="triangular2")
    ours_opt, theirs_opt = make_optimizer(), make_optimizer()
    for opt in (ours_opt, theirs_opt):
        for group in opt.param_groups:
            group["initial_lr"] = 0.001
    ours = ct.CyclicLR(ours_opt, last_epoch=12, **kwargs)
    theirs = torch_sched.CyclicLR(theirs_opt, last_epoch=12, **kwargs)
    run_pair(ours, theirs, steps=20)


def test_state_dicts_are_interchangeable_with_torch():
    kwargs = dict(base_lr=0.001, max_lr=0.006, step_size_up=4, step_size_down=7, mode="exp_range", gamma=0.9)
    ours = ct.CyclicLR(make_optimizer(), **kwargs)
    theirs = torch_sched.CyclicLR(make_optimizer(), **kwargs)
    for _ in range(9):
        ours.step()
        theirs.step()
    into_torch = torch_sched.CyclicLR(make_optimizer(), **kwargs)
    into_torch.load_state_dict(ours.state_dict())
    into_ours = ct.CyclicLR(make_optimizer(), base_lr=0.5, max_lr=0.9, step_size_up=100)
    into_ours.load_state_dict(theirs.state_dict())
    assert into_ours.step_size_up == 4 and into_ours.step_size_down == 7
    for _ in range(25):
        for s in (ours, theirs, into_torch, into_ours):
            s.step()
        assert ours.get_last_lr() == theirs.get_last_lr() == into_torch.get_last_lr() == into_ours.get_last_lr()


@cyclr.register_scale_fn("test_torch_decay_by_cycle")
def decay_by_cycle(cycle: float) -> float:
    return 1 / math.sqrt(cycle)


@cyclr.register_scale_fn("test_torch_third")
def third(cycle: float) -> float:
    return 1 / 3 ** (cycle - 1)


@cyclr.register_scale_fn("test_torch_power")
@dataclasses.dataclass(frozen=True)
class TorchPower:
    power: float

    def __call__(self, cycle: float) -> float:
        return cycle**-self.power


def unregistered_decay(cycle: float) -> float:
    return 1 / cycle


@pytest.mark.parametrize("fn", [decay_by_cycle, third, TorchPower(0.75)])
def test_named_scale_fn_survives_state_dict_unlike_torch(fn):
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006, step_size_up=3, scale_fn=fn)
    for _ in range(8):
        sched.step()
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh = ct.CyclicLR(make_optimizer(), 0.001, 0.006, step_size_up=3)  # built without the scale_fn
    fresh.load_state_dict(state)
    for _ in range(10):
        sched.step()
        fresh.step()
        assert sched.get_last_lr() == fresh.get_last_lr()
    assert fresh.scale_fn(2) == fn(2)


def test_unregistered_module_level_scale_fn_is_left_out_with_a_warning():
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006, scale_fn=unregistered_decay)
    with pytest.warns(UserWarning, match="not registered.*register_scale_fn.*left out of the state_dict"):
        state = sched.state_dict()
    assert state["scale_fn_ref"] is None


def test_lambda_scale_fn_warns_instead_of_dropping_silently():
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006, scale_fn=lambda c: 1.0)
    with pytest.warns(UserWarning, match="left out of the state_dict"):
        state = sched.state_dict()
    assert state["scale_fn_ref"] is None and state["_scale_fn_custom"] is None


def test_shape_extra_follows_the_core():
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006, step_size_up=8, shape="hann")
    core = cyclr.CyclicSchedule(0.001, 0.006, step_size_up=8, shape="hann")
    for it in range(40):
        assert sched.get_last_lr()[0] == core(it)
        assert sched.optimizer.param_groups[0]["momentum"] == core.momentum(it, 0.8, 0.9)
        sched.step()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(base_lr=[0.1, 0.2, 0.3], max_lr=1.0), ValueError, "base_lr must have one value per param group"),
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=0), ValueError, "step_size_up must be nonzero"),
        (dict(base_lr=0.1, max_lr=1.0, step_size_up=4, step_size_down=-4), ValueError, "must be finite and nonzero"),
        (dict(base_lr=0.1, max_lr=1.0, mode="cosine"), ValueError, "mode must be one of"),
        (dict(base_lr=0.1, max_lr=1.0, base_momentum=float("nan")), ValueError, "base_momentum must be finite"),
        (dict(base_lr=0.1, max_lr=1.0, shape="saw"), ValueError, "shape must be one of"),
        (dict(base_lr=-1e308, max_lr=1e308), ValueError, "max_lr - base_lr overflows"),
    ],
)
def test_cyclic_rejects_bad_input(kwargs, error, message):
    optimizer = make_optimizer(groups=2)
    before = [dict(g) for g in optimizer.param_groups]
    with pytest.raises(error, match=message):
        ct.CyclicLR(optimizer, **kwargs)
    assert [g["lr"] for g in optimizer.param_groups] == [g["lr"] for g in before]


def half_per_cycle(cycle: float) -> float:
    return 0.5 ** (cycle - 1)


def test_custom_scale_fn_makes_mode_irrelevant_as_in_torch():
    # PyTorch checks mode only when scale_fn is None; a label like "custom" is common
    kwargs = dict(base_lr=0.001, max_lr=0.006, step_size_up=3, mode="custom", scale_fn=half_per_cycle)
    ours = ct.CyclicLR(make_optimizer(), **kwargs)
    theirs = torch_sched.CyclicLR(make_optimizer(), **kwargs)
    run_pair(ours, theirs, 20)


def test_optimizer_without_momentum_gets_a_helpful_error():
    with pytest.raises(ValueError, match="Adagrad has neither; pass cycle_momentum=False"):
        ct.CyclicLR(make_optimizer("adagrad"), 0.001, 0.006)
    ct.CyclicLR(make_optimizer("adagrad"), 0.001, 0.006, cycle_momentum=False)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got list"):
        ct.CyclicLR([], 0.001, 0.006)


ONE_CYCLE_CONFIGS = [
    dict(max_lr=0.1, total_steps=100),
    dict(max_lr=0.1, total_steps=100, anneal_strategy="linear"),
    dict(max_lr=0.1, total_steps=100, three_phase=True),
    dict(max_lr=[0.1, 0.3], total_steps=57, pct_start=0.4, three_phase=True, anneal_strategy="linear"),
    dict(max_lr=0.05, epochs=4, steps_per_epoch=13, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=0.1, total_steps=80, cycle_momentum=False),
    dict(max_lr=0.1, total_steps=80, base_momentum=[0.8, 0.7], max_momentum=[0.9, 0.99]),
]


@pytest.mark.parametrize("kwargs", ONE_CYCLE_CONFIGS)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_matches_torch(kwargs, kind):
    ours = ct.OneCycleLR(make_optimizer(kind, 2), **kwargs)
    theirs = torch_sched.OneCycleLR(make_optimizer(kind, 2), **kwargs)
    total = ours.total_steps
    run_pair(ours, theirs, steps=total)
    with pytest.raises(ValueError, match="Tried to step"):
        ours.step()


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_resumes_from_state_dict(kind):
    kwargs = dict(max_lr=[0.1, 0.2], total_steps=60, three_phase=True)
    reference = torch_sched.OneCycleLR(make_optimizer(kind, 2), **kwargs)
    first = ct.OneCycleLR(make_optimizer(kind, 2), **kwargs)
    for _ in range(25):
        for s in (reference, first):
            s.optimizer.step()
            s.step()
    buffer = io.BytesIO()
    torch.save({"opt": first.optimizer.state_dict(), "sched": first.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    optimizer = make_optimizer(kind, 2)
    resumed = ct.OneCycleLR(optimizer, **kwargs)
    optimizer.load_state_dict(saved["opt"])
    resumed.load_state_dict(saved["sched"])
    run_pair(resumed, reference, steps=35)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_lr=0.1), "You must define either total_steps OR"),
        (dict(max_lr=0.1, epochs=0, steps_per_epoch=10), "epochs must be a positive integer"),
        (dict(max_lr=0.1, total_steps=0), "total_steps must be >= 1"),
        (dict(max_lr=0.1, total_steps=100, pct_start=2.0), "pct_start must be in"),
        (dict(max_lr=0.1, total_steps=100, anneal_strategy="exp"), "anneal_strategy must be one of"),
        (dict(max_lr=[0.1], total_steps=100), "max_lr must have one value per param group"),
    ],
)
def test_one_cycle_rejects_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ct.OneCycleLR(make_optimizer(groups=2), **kwargs)


def test_get_lr_outside_step_warns_like_torch():
    sched = ct.CyclicLR(make_optimizer(), 0.001, 0.006)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.get_lr()
    assert any("get_last_lr" in str(w.message) for w in caught)


# --- the range test's suggestion, as a scheduler -------------------------------------


def test_bounds_give_cyclic_lr_kwargs_per_group() -> None:
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.001}], lr=0.01, momentum=0.9)
    b = Bounds(0.01, 0.04, "valley", group_ratios=(1.0, 0.1))
    kwargs = b.cyclic_lr_kwargs(iterations_per_epoch=10, epochs_per_step=2)
    assert kwargs["base_lr"] == [0.01, 0.001] and kwargs["max_lr"] == pytest.approx([0.04, 0.004])
    sched = ct.CyclicLR(opt, **kwargs)
    assert sched.get_last_lr() == [0.01, 0.001]
    single = Bounds(0.01, 0.04, "valley").cyclic_lr_kwargs(10, cycle_momentum=False)
    assert single == {"base_lr": 0.01, "max_lr": 0.04, "step_size_up": 40, "mode": "triangular",
                      "cycle_momentum": False}
