"""cyclr.torch.LRFinder: state restore, stopping, AMP skips, accumulation, groups, validation, bad input."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import nn

from cyclr import NoSuggestionError, RangeSweep
from cyclr.torch import LRFinder

# --- fixtures ---------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Any:
    # tiny models: extra threads only contend for the shared cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Net(nn.Module):
    """A small classifier with every kind of state: BatchNorm statistics, a
    non-persistent buffer, dropout (RNG) and a submodule kept in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1))
        self.head = nn.Linear(16, 3)
        self.register_buffer("calls", torch.zeros(()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.head(self.body(x))


def make_data(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def batches(x: torch.Tensor, y: torch.Tensor, size: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def setup(momentum: float = 0.9, warm: bool = True) -> tuple[Net, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = Net()
    model.body[3].eval()  # a mixed train/eval state the restore must keep
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum)
    if warm:  # non-empty optimizer state and gradients before the test
        x, y = make_data(32, seed=5)
        for _ in range(2):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    return model, opt


def snapshot(model: nn.Module, opt: torch.optim.Optimizer, scaler: Any = None) -> dict[str, Any]:
    return {
        "tensors": [t.detach().clone() for t in [*model.parameters(), *model.buffers()]],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "opt": copy.deepcopy(opt.state_dict()),
        "scaler": None if scaler is None else copy.deepcopy(scaler.state_dict()),
        "rng": torch.get_rng_state(),
    }


def same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
    return bool(a == b)


def assert_restored(before: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer, scaler: Any = None) -> None:
    after = snapshot(model, opt, scaler)
    for key in before:
        assert same(before[key], after[key]), f"{key} changed"


CE = nn.CrossEntropyLoss()


# --- state restore -----------------------------------------------------------------


def test_restore_after_automatic_two_stage_test_and_training_continues_identically() -> None:
    x, y = make_data()
    model, opt = setup()
    twin, twin_opt = setup()
    before = snapshot(model, opt)
    result = LRFinder(model, opt, CE, progress=False).range_test(
        batches(x, y), batches(*make_data(48, seed=1)), num_iter=40, coarse_iter=30
    )
    assert result.coarse is not None and result.coarse.settings["stage"] == "coarse"
    assert result.settings["sweep"]["step_mode"] == "linear" and result.lrs[0] == 0.0
    assert "val_accuracy" in result.metrics
    assert_restored(before, model, opt)
    # the same next steps, bit for bit, as a twin that never saw a range test
    for m, o in ((model, opt), (twin, twin_opt)):
        torch.manual_seed(3)
        for xb, yb in batches(x, y)[:3]:
            o.zero_grad()
            CE(m(xb), yb).backward()
            o.step()
    assert same([*model.parameters()], [*twin.parameters()])


def test_restore_after_divergence() -> None:
    x, y = make_data()
    model, opt = setup()
    before = snapshot(model, opt)
    result = LRFinder(model, opt, CE, progress=False).range_test(
        batches(x, y), start_lr=1e-3, end_lr=1e6, num_iter=200, step_mode="exp"
    )
    assert result.stop_reason in ("diverged", "non_finite") and len(result) < 200
    assert result.stop_lr is not None and result.stop_lr > 1e-3
    assert_restored(before, model, opt)


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_restore_when_the_step_raises_keeps_the_curve(exc_type: type[BaseException]) -> None:
    x, y = make_data()
    model, opt = setup()
    before = snapshot(model, opt)
    calls = 0

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls == 13:
            raise exc_type("stop here")
        return CE(m(batch[0]), batch[1])

    finder = LRFinder(model, opt, step_fn=step_fn, progress=False)
    with pytest.raises(exc_type, match="stop here") as info:
        finder.range_test(batches(x, y), start_lr=0.0, end_lr=0.1, num_iter=50, sync_every=5)
    partial = info.value.range_test_result  # type: ignore[attr-defined]
    assert partial is finder.result and len(partial) == 12
    assert partial.stop_reason == ("interrupted" if exc_type is KeyboardInterrupt else "error")
    assert partial.stop_step == 12
    assert_restored(before, model, opt)


def test_state_copy_on_cpu_and_cold_optimizer() -> None:
    x, y = make_data()
    model, opt = setup(warm=False)
    before = snapshot(model, opt)
    assert not opt.state and all(p.grad is None for p in model.parameters())
    LRFinder(model, opt, CE, state_device="cpu", progress=False).range_test(
        batches(x, y), start_lr=0.0, end_lr=0.5, num_iter=20
    )
    assert not opt.state  # momentum buffers made during the test are gone
    assert_restored(before, model, opt)


def test_adam_state_restored() -> None:
    x, y = make_data()
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.Adam([{"params": model.body.parameters()}, {"params": model.head.parameters(), "lr": 1e-4}],
                           lr=1e-3)
    CE(model(x), y).backward()
    opt.step()
    before = snapshot(model, opt)
    LRFinder(model, opt, CE, progress=False).range_test(batches(x, y), start_lr=1e-5, end_lr=1e-1, num_iter=15)
    assert_restored(before, model, opt)


# --- sweep mechanics -------------------------------------------------------------------


def recording_step(log: list[tuple[float, ...]]) -> Any:
    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        log.append(tuple(g["lr"] for g in opt_of[m].param_groups))
        return CE(m(batch[0]), batch[1])

    return step_fn


opt_of: dict[nn.Module, torch.optim.Optimizer] = {}


def test_lrs_follow_the_sweep_and_short_loader_cycles() -> None:
    x, y = make_data(32)  # 2 batches, 30 steps
    model, opt = setup(momentum=0.0)
    opt_of[model] = opt
    seen: list[tuple[float, ...]] = []
    result = LRFinder(model, opt, step_fn=recording_step(seen), progress=False).range_test(
        batches(x, y), start_lr=1e-4, end_lr=1e-2, num_iter=30, step_mode="exp"
    )
    sweep = RangeSweep(1e-4, 1e-2, 30, "exp")
    assert result.stop_reason == "finished"
    assert result.lrs.tolist() == [sweep(i) for i in range(30)]
    assert [s[0] for s in seen] == result.lrs.tolist()


def test_parameter_groups_keep_their_ratio() -> None:
    x, y = make_data()
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD([{"params": model.body.parameters(), "lr": 0.2}, {"params": model.head.parameters()}],
                          lr=0.02)
    opt_of[model] = opt
    seen: list[tuple[float, ...]] = []
    result = LRFinder(model, opt, step_fn=recording_step(seen), progress=False).range_test(
        batches(x, y), start_lr=0.01, end_lr=0.5, num_iter=12
    )
    assert all(head == pytest.approx(body / 10, rel=1e-12) for body, head in seen)
    assert [body for body, _ in seen] == result.lrs.tolist()
    assert result.settings["group_ratios"] == pytest.approx([1.0, 0.1], rel=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.02]


def test_gradient_accumulation_matches_the_big_batch() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randn(64, 1)
    results = []
    for size, accumulate in ((16, 1), (8, 2)):
        torch.manual_seed(1)
        model = nn.Linear(5, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        results.append(
            LRFinder(model, opt, nn.MSELoss(), progress=False).range_test(
                batches(x, y, size), start_lr=0.001, end_lr=0.1, num_iter=8, accumulation_steps=accumulate
            )
        )
    big, accumulated = results
    assert accumulated.settings["accumulation_steps"] == 2
    torch.testing.assert_close(torch.tensor(accumulated.losses), torch.tensor(big.losses), rtol=1e-6, atol=1e-7)


def test_grad_scaler_skip_does_not_advance_the_sweep() -> None:
    x, y = make_data()
    model, opt = setup()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    before = snapshot(model, opt, scaler)
    calls = 0

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        nonlocal calls
        calls += 1
        loss = CE(m(batch[0]), batch[1])
        return loss * math.inf if calls in (4, 9, 10) else loss  # overflowing steps the scaler skips

    steps = 0

    def count(*_: Any) -> None:
        nonlocal steps
        steps += 1

    handle = opt.register_step_post_hook(count)
    try:
        result = LRFinder(model, opt, step_fn=step_fn, scaler=scaler, progress=False).range_test(
            batches(x, y), start_lr=0.0, end_lr=0.1, num_iter=20
        )
    finally:
        handle.remove()
    assert result.stop_reason == "finished" and calls == 23 and steps == 20
    assert result.lrs.tolist() == [RangeSweep(0.0, 0.1, 20)(i) for i in range(20)]
    assert all(math.isfinite(v) for v in result.losses)
    assert_restored(before, model, opt, scaler)
    assert scaler.get_scale() == 2.0**10


def test_grad_scaler_that_always_skips_stops_as_non_finite() -> None:
    x, y = make_data()
    model, opt = setup()
    scaler = torch.amp.GradScaler("cpu")
    result = LRFinder(model, opt, step_fn=lambda m, b: CE(m(b[0]), b[1]) * math.nan, scaler=scaler,
                      progress=False).range_test(batches(x, y), start_lr=0.0, end_lr=0.1, num_iter=20)
    assert result.stop_reason == "non_finite" and len(result) == 0


def test_autocast_bfloat16_on_cpu_runs_and_restores() -> None:
    x, y = make_data()
    model, opt = setup()
    before = snapshot(model, opt)
    result = LRFinder(model, opt, CE, amp_dtype=torch.bfloat16, progress=False).range_test(
        batches(x, y), start_lr=0.0, end_lr=0.1, num_iter=10
    )
    assert len(result) == 10
    assert_restored(before, model, opt)


def test_sync_every_does_not_change_the_curve() -> None:
    x, y = make_data()
    curves = []
    for sync in (1, 7):
        model, opt = setup()
        curves.append(LRFinder(model, opt, CE, progress=False).range_test(
            batches(x, y), start_lr=1e-3, end_lr=1e5, num_iter=80, step_mode="exp", sync_every=sync))
    assert curves[0].stop_reason == curves[1].stop_reason != "finished"
    assert curves[0].losses.tolist() == curves[1].losses.tolist()
    assert curves[0].stop_step == curves[1].stop_step


def test_one_shot_iterator_that_runs_out_is_exhausted() -> None:
    x, y = make_data(48)
    model, opt = setup()
    result = LRFinder(model, opt, CE, progress=False).range_test(
        iter(batches(x, y)), start_lr=0.0, end_lr=0.1, num_iter=10
    )
    assert result.stop_reason == "exhausted" and len(result) == 3


def test_automatic_mode_on_a_short_one_shot_iterator_says_so() -> None:
    x, y = make_data(48)
    model, opt = setup()
    with pytest.raises(NoSuggestionError, match="ran out of batches after 3 steps.*one-shot"):
        LRFinder(model, opt, CE, progress=False).range_test(iter(batches(x, y)), num_iter=10)


def test_dict_batches_with_a_step_function() -> None:
    x, y = make_data()
    model, opt = setup()
    data = [{"features": xb, "label": yb} for xb, yb in batches(x, y)]

    def step_fn(m: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return CE(m(batch["features"]), batch["label"]) + 0.0 * sum(p.sum() for p in m.parameters())

    result = LRFinder(model, opt, step_fn=step_fn, progress=False).range_test(
        data, val_loader=data[:2], start_lr=0.0, end_lr=0.1, num_iter=12, val_every=4
    )
    assert result.metric_steps.tolist() == [3, 7, 11]
    assert list(result.metrics) == ["val_loss"]


# --- validation --------------------------------------------------------------------------


class CountingLoader:
    def __init__(self, data: list[Any]) -> None:
        self.data, self.batches = data, 0

    def __iter__(self) -> Any:
        for batch in self.data:
            self.batches += 1
            yield batch


def test_validation_every_k_steps_on_a_bounded_number_of_batches() -> None:
    x, y = make_data()
    model, opt = setup()
    val = CountingLoader(batches(*make_data(160, seed=2)))
    result = LRFinder(
        model, opt, CE, metric_fn=lambda out, tgt: {"top2": (out.topk(2).indices == tgt[:, None]).any(1).float().mean()},
        progress=False,
    ).range_test(batches(x, y), val, start_lr=0.0, end_lr=0.2, num_iter=20, val_every=5, val_batches=3)
    assert val.batches == 3  # read once, kept
    assert result.metric_steps.tolist() == [4, 9, 14, 19]
    assert result.metric_lrs.tolist() == [result.lrs[i] for i in (4, 9, 14, 19)]
    assert set(result.metrics) == {"val_loss", "val_accuracy", "top2"}
    acc, top2 = result.metrics["val_accuracy"], result.metrics["top2"]
    assert ((acc >= 0) & (acc <= top2) & (top2 <= 1)).all()


def test_builtin_validation_matches_a_direct_computation() -> None:
    x, y = make_data()
    vx, vy = make_data(40, seed=3)
    model, opt = setup()
    seen: dict[str, float] = {}

    def val_fn(m: nn.Module) -> dict[str, float]:
        with torch.no_grad():
            out = m(vx)
            seen.update(loss=float(CE(out, vy)), acc=float((out.argmax(1) == vy).float().mean()))
        return {"val_loss": seen["loss"], "val_accuracy": seen["acc"]}

    builtin = LRFinder(model, opt, CE, progress=False).range_test(
        batches(x, y), batches(vx, vy, 16), start_lr=0.0, end_lr=0.1, num_iter=6, val_every=6, val_batches=None
    )
    model, opt = setup()
    custom = LRFinder(model, opt, CE, val_fn=val_fn, progress=False).range_test(
        batches(x, y), start_lr=0.0, end_lr=0.1, num_iter=6, val_every=6
    )
    assert custom.losses.tolist() == builtin.losses.tolist()
    assert builtin.metrics["val_accuracy"][0] == pytest.approx(seen["acc"], abs=1e-7)
    assert builtin.metrics["val_loss"][0] == pytest.approx(seen["loss"], rel=1e-5)


def test_progress_bar_can_be_shown(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = make_data()
    model, opt = setup()
    LRFinder(model, opt, CE, progress=True).range_test(batches(x, y), start_lr=0.0, end_lr=0.1, num_iter=5)
    assert "range test" in capsys.readouterr().err


# --- bad input -----------------------------------------------------------------------------

GOOD = {"start_lr": 0.0, "end_lr": 0.1, "num_iter": 10}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_iter": 0}, "num_iter"),
        ({"num_iter": 2.5}, "num_iter"),
        ({"start_lr": 0.1, "end_lr": 0.1}, "end_lr must be > start_lr"),
        ({"start_lr": 0.2, "end_lr": 0.1}, "end_lr must be > start_lr"),
        ({"end_lr": -1.0}, "end_lr"),
        ({"start_lr": -0.1}, "start_lr"),
        ({"step_mode": "cosine"}, "step_mode"),
        ({"start_lr": 0.0, "step_mode": "exp"}, "start_lr must be > 0"),
        ({"start_lr": None, "step_mode": "log"}, "step_mode"),
        ({"start_lr": None, "end_lr": 1e-8}, "end_lr"),
        ({"accumulation_steps": 0}, "accumulation_steps"),
        ({"val_every": 0}, "val_every"),
        ({"val_batches": 0}, "val_batches"),
        ({"smooth_beta": 1.0}, "smooth_beta"),
        ({"diverge_th": 0.5}, "diverge_th"),
        ({"sync_every": 0}, "sync_every"),
        ({"coarse_iter": 3}, "coarse_iter"),
        ({"train_loader": []}, "train_loader must yield"),
        ({"train_loader": 5}, "train_loader"),
        ({"val_loader": []}, "val_loader must yield"),
        ({"val_loader": iter([])}, "val_loader must yield"),
    ],
)
def test_bad_range_test_input_leaves_everything_untouched(kwargs: dict[str, Any], match: str) -> None:
    x, y = make_data()
    model, opt = setup()
    before = snapshot(model, opt)
    args = {"train_loader": batches(x, y), **GOOD, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        LRFinder(model, opt, CE, progress=False).range_test(**args)
    assert_restored(before, model, opt)


def test_bad_batch_shape_is_reported_and_restored() -> None:
    model, opt = setup()
    before = snapshot(model, opt)
    with pytest.raises(TypeError, match="step_fn"):
        LRFinder(model, opt, CE, progress=False).range_test([{"x": torch.ones(2, 6)}], **GOOD)
    assert_restored(before, model, opt)


def test_param_group_without_lr_ratio_is_rejected() -> None:
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD([{"params": model.body.parameters(), "lr": 0.0}, {"params": model.head.parameters()}],
                          lr=0.1)
    with pytest.raises(ValueError, match="first parameter group"):
        LRFinder(model, opt, CE, progress=False).range_test(batches(*make_data()), **GOOD)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "net"}, "model"),
        ({"optimizer": None}, "optimizer"),
        ({"criterion": None}, "criterion must be given"),
        ({"step_fn": 3}, "step_fn"),
        ({"scaler": object()}, "scaler"),
        ({"amp_dtype": torch.float64}, "amp_dtype"),
        ({"progress": "yes"}, "progress"),
        ({"metric_fn": lambda out, tgt: 1.0, "step_fn": lambda m, b: m(b[0]).sum()}, "metric_fn.*step_fn"),
        ({"metric_fn": lambda out, tgt: 1.0, "val_fn": lambda m: {"a": 1.0}}, "metric_fn.*val_fn"),
    ],
)
def test_bad_finder_arguments(kwargs: dict[str, Any], match: str) -> None:
    model, opt = setup(warm=False)
    args = {"model": model, "optimizer": opt, "criterion": CE, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        LRFinder(**args)


def test_val_loader_and_val_fn_are_exclusive() -> None:
    model, opt = setup()
    with pytest.raises(ValueError, match="val_fn"):
        LRFinder(model, opt, CE, val_fn=lambda m: {"a": 1.0}, progress=False).range_test(
            batches(*make_data()), batches(*make_data()), **GOOD
        )
