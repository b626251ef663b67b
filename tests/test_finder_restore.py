"""cyclr.torch.LRFinder puts back every tensor the optimizer or model touches, and frees its copy."""

from __future__ import annotations

import copy
import gc
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from cyclr import NoSuggestionError
from cyclr.torch import LRFinder
from cyclr.torch import finder as finder_module
from cyclr.torch._state import RestoreError, TrainingState


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TemperatureLoss(nn.Module):
    """Cross-entropy at a learnable temperature, plus a bias tensor the optimizer owns outside any module."""

    def __init__(self, shift: torch.Tensor) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.tensor(0.3))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.shift = shift

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return nn.functional.cross_entropy(outputs / self.log_temperature.exp() + self.shift, targets)


def make_data(n: int = 64, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return [(x[i : i + 16], y[i : i + 16]) for i in range(0, n, 16)]


def make_setup(optimizer: str = "adam") -> tuple[nn.Module, TemperatureLoss, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))
    shift = torch.zeros(3, requires_grad=True)
    criterion = TemperatureLoss(shift)
    groups = [{"params": model.parameters()}, {"params": [criterion.log_temperature, shift], "lr": 1e-3}]
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(groups, lr=1e-2, betas=(0.8, 0.95))
    else:
        opt = torch.optim.SGD(groups, lr=1e-2, momentum=0.9, nesterov=True)
    for xb, yb in make_data(32, seed=5):  # warm state and gradients
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
    return model, criterion, opt


def record(model: nn.Module, criterion: Any, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """Every tensor (object, values, dtype, device), gradient, state entry, hyperparameter and the RNG."""
    modules = [model, *([criterion] if isinstance(criterion, nn.Module) else [])]
    tensors = {id(t): t for m in modules for t in [*m.parameters(), *m.buffers()]}
    tensors |= {id(t): t for g in opt.param_groups for t in g["params"]}

    def describe(t: torch.Tensor) -> tuple[Any, ...]:
        return (t, t.detach().clone(), t.dtype, t.device)

    return {
        "tensors": [describe(t) for t in tensors.values()],
        "grads": [None if t.grad is None else t.grad.detach().clone() for t in tensors.values()],
        "state": {id(p): (p, {k: describe(v) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
                              for k, v in s.items()}) for p, s in opt.state.items()},
        "groups": [{k: (list(v) if k == "params" else copy.deepcopy(v)) for k, v in g.items()}
                   for g in opt.param_groups],
        "modes": [m.training for module in modules for m in module.modules()],
        "rng": torch.get_rng_state(),
    }


def assert_same(before: Any, after: Any, where: str = "") -> None:
    if isinstance(before, torch.Tensor):
        assert isinstance(after, torch.Tensor), where
        assert (before.dtype, before.device, before.shape) == (after.dtype, after.device, after.shape), where
        assert torch.equal(before.view(torch.uint8) if before.dtype == torch.bfloat16 else before,
                           after.view(torch.uint8) if after.dtype == torch.bfloat16 else after), where
    elif isinstance(before, tuple) and len(before) == 4 and isinstance(before[0], torch.Tensor):
        live, values, dtype, device = after
        assert live is before[0], f"{where}: a different tensor object"
        assert (dtype, device) == (before[2], before[3]), f"{where}: {dtype} on {device}"
        assert_same(before[1], values, where)
    elif isinstance(before, dict):
        assert before.keys() == after.keys(), where
        for k in before:
            assert_same(before[k], after[k], f"{where}.{k}")
    elif isinstance(before, (list, tuple)):
        assert len(before) == len(after), where
        for i, (a, b) in enumerate(zip(before, after)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert before == after, f"{where}: {before!r} != {after!r}"


def failing_step(exc_type: type[BaseException] | None, at: int, loss: Any) -> Any:
    """``loss(model, batch)`` as a step function that raises ``exc_type`` at call ``at``."""
    calls = 0

    def step_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if exc_type is not None and calls == at:
            raise exc_type("stop here")
        return loss(model, batch)

    return step_fn


def criterion_loss(criterion: Any) -> Any:
    return lambda model, batch: criterion(model(batch[0]), batch[1])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("exc_type", [None, RuntimeError, KeyboardInterrupt])
def test_every_tensor_the_optimizer_touches_comes_back(
    optimizer: str, exc_type: type[BaseException] | None
) -> None:
    model, criterion, opt = make_setup(optimizer)
    before = record(model, criterion, opt)
    finder = LRFinder(model, opt, criterion, step_fn=failing_step(exc_type, 9, criterion_loss(criterion)), progress=False)
    run = lambda: finder.range_test(make_data(), start_lr=1e-3, end_lr=1.0, num_iter=15)  # noqa: E731
    if exc_type is None:
        assert len(run()) == 15
    else:
        with pytest.raises(exc_type, match="stop here") as info:
            run()
        assert len(info.value.range_test_result) == 8  # type: ignore[attr-defined]
    assert_same(before, record(model, criterion, opt))


def test_the_automatic_mode_restores_between_and_after_the_sweeps() -> None:
    model, criterion, opt = make_setup()
    before = record(model, criterion, opt)
    LRFinder(model, opt, criterion, progress=False).range_test(make_data(), num_iter=20, coarse_iter=20)
    assert_same(before, record(model, criterion, opt))


def bf16_setup() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(1)
    model = nn.Linear(6, 3).to(torch.bfloat16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for p in model.parameters():  # an fp32 master copy and momentum kept beside bf16 weights
        opt.state[p]["momentum_buffer"] = torch.randn(p.shape, dtype=torch.float32) * 1e-3
        opt.state[p]["master"] = p.detach().float() + 1e-4
    return model, opt


def bf16_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch[0].to(torch.bfloat16)).float(), batch[1])


@pytest.mark.parametrize("exc_type", [None, RuntimeError, KeyboardInterrupt])
def test_fp32_state_of_a_bf16_model_keeps_its_dtype(exc_type: type[BaseException] | None) -> None:
    model, opt = bf16_setup()
    before = record(model, None, opt)
    finder = LRFinder(model, opt, step_fn=failing_step(exc_type, 6, bf16_loss), progress=False)
    run = lambda: finder.range_test(make_data(), start_lr=1e-3, end_lr=0.1, num_iter=10)  # noqa: E731
    if exc_type is None:
        run()
    else:
        with pytest.raises(exc_type):
            run()
    assert all(s["momentum_buffer"].dtype == torch.float32 for s in opt.state.values())
    assert_same(before, record(model, None, opt))


def test_fp32_state_survives_a_move_to_the_finder_device() -> None:
    model, opt = bf16_setup()
    before = record(model, None, opt)
    moved = model.to("cpu")
    assert moved is model
    finder = LRFinder(model, opt, step_fn=bf16_loss, device="cpu", progress=False)
    finder.range_test(make_data(), start_lr=1e-3, end_lr=0.1, num_iter=5)
    assert_same(before, record(model, None, opt))


@pytest.mark.parametrize("name", ["device", "state_device"])
def test_a_meta_device_is_refused_up_front(name: str) -> None:
    model, criterion, opt = make_setup()
    with pytest.raises(ValueError, match=f"{name} must be a device that holds data, got {name}='meta'"):
        LRFinder(model, opt, criterion, **{name: "meta"})


def test_a_model_on_the_meta_device_is_refused_before_a_batch_is_drawn() -> None:
    model, criterion, opt = make_setup()
    model.to("meta")
    data = iter(make_data())
    with pytest.raises(ValueError, match="model must keep its tensors on a device that holds data.*meta"):
        LRFinder(model, opt, criterion, progress=False).range_test(data, start_lr=0.0, end_lr=0.1, num_iter=5)
    assert len(list(data)) == 4


def test_weights_moved_to_meta_during_the_test_come_back() -> None:
    model, criterion, opt = make_setup()
    before = record(model, criterion, opt)

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        loss = criterion(m(batch[0]), batch[1])
        m.to("meta")
        return loss

    with pytest.raises(Exception):
        LRFinder(model, opt, criterion, step_fn=step_fn, progress=False).range_test(
            make_data(), start_lr=0.0, end_lr=0.1, num_iter=5
        )
    assert_same(before, record(model, criterion, opt))


def test_a_failed_restore_keeps_the_copy_on_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    model, criterion, opt = make_setup()
    before = record(model, criterion, opt)
    calls = {"n": 0}
    set_rng_state = torch.set_rng_state

    def broken(state: torch.Tensor) -> None:
        calls["n"] += 1
        raise RuntimeError("rng unavailable")

    monkeypatch.setattr(torch, "set_rng_state", broken)
    with pytest.raises(RestoreError, match="could not restore.*rng unavailable.*snapshot") as info:
        LRFinder(model, opt, criterion, progress=False).range_test(make_data(), start_lr=0.0, end_lr=0.1, num_iter=5)
    monkeypatch.setattr(torch, "set_rng_state", set_rng_state)
    assert len(info.value.range_test_result) == 5  # type: ignore[attr-defined]
    after = record(model, criterion, opt)
    after["rng"] = before["rng"]
    assert_same(before, after)  # everything else was put back despite the failure
    info.value.snapshot.restore()
    assert_same(before, record(model, criterion, opt))


def test_failed_range_tests_do_not_keep_copies_of_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    copies: list[weakref.ref[TrainingState]] = []

    class Tracked(TrainingState):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            copies.append(weakref.ref(self))

    monkeypatch.setattr(finder_module, "TrainingState", Tracked)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 512), nn.Linear(512, 3))  # a large-ish weight
    big = model[0].weight
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    errors: list[BaseException] = []
    for i in range(20):
        finder = LRFinder(model, opt, step_fn=failing_step(RuntimeError, 3, criterion_loss(nn.CrossEntropyLoss())), progress=False)
        try:
            finder.range_test(make_data(), start_lr=0.0, end_lr=0.1, num_iter=5)
        except RuntimeError as exc:
            errors.append(exc)
    gc.collect()
    assert len(errors) == 20 and all(len(e.range_test_result) == 2 for e in errors)  # type: ignore[attr-defined]
    assert len(copies) == 20 and all(ref() is None for ref in copies)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isinstance on deprecated torch aliases warns
        same_shape = [o for o in gc.get_objects() if isinstance(o, torch.Tensor) and o.shape == big.shape]
    assert len(same_shape) <= 2  # the weight (and its gradient), no copies


def one_shot(batches: list[Any]) -> Iterator[Any]:
    yield from batches


def test_a_one_shot_generator_that_runs_out_before_the_linear_sweep_says_so() -> None:
    model, criterion, opt = make_setup()
    before = record(model, criterion, opt)
    data = make_data(16 * 25)  # 25 batches: 20 for the coarse sweep, 5 left for the linear one
    finder = LRFinder(model, opt, criterion, progress=False)
    with pytest.raises(NoSuggestionError, match="train_loader was exhausted after 25 batches.*iterated again") as info:
        finder.range_test(one_shot(data), num_iter=40, coarse_iter=20)
    partial = info.value.range_test_result  # type: ignore[attr-defined]
    assert partial is finder.result and partial.stop_reason == "exhausted" and len(partial) == 5
    assert partial.coarse is not None and len(partial.coarse) == 20
    assert_same(before, record(model, criterion, opt))


def test_a_one_shot_generator_used_up_by_the_coarse_sweep_leaves_no_empty_result() -> None:
    model, criterion, opt = make_setup()
    with pytest.raises(NoSuggestionError, match="exhausted after 20 batches, leaving the linear sweep 0 steps"):
        LRFinder(model, opt, criterion, progress=False).range_test(
            one_shot(make_data(16 * 20)), num_iter=40, coarse_iter=20
        )
