"""Gradient clipping in the torch range test: the same steps as a training loop that clips."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cyclr.torch import LRFinder


def setup(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list[tuple[torch.Tensor, torch.Tensor]]]:
    g = torch.Generator().manual_seed(seed)
    x = 3.0 * torch.randn(96, 6, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, [(x[i : i + 16], y[i : i + 16]) for i in range(0, 96, 16)]


def manual_losses(lrs: list[float], clip: str | None, threshold: float, seed: int = 0,
                  scaler: torch.amp.GradScaler | None = None) -> list[float]:
    """The training loop that the range test stands for, clipping as ``clip`` says (AMP's order with ``scaler``)."""
    model, optimizer, batches = setup(seed)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for i, lr in enumerate(lrs):
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        (loss if scaler is None else scaler.scale(loss)).backward()
        if scaler is not None and clip:
            scaler.unscale_(optimizer)
        if clip == "norm":
            torch.nn.utils.clip_grad_norm_(model.parameters(), threshold)
        elif clip == "value":
            torch.nn.utils.clip_grad_value_(model.parameters(), threshold)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()
        losses.append(float(loss.detach()))
    return losses


def finder_losses(clip: str | None, threshold: float, seed: int = 0) -> tuple[list[float], list[float]]:
    model, optimizer, batches = setup(seed)
    before = copy.deepcopy(model.state_dict())
    kwargs = {"max_grad_norm": threshold} if clip == "norm" else {"max_grad_value": threshold} if clip else {}
    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), progress=False, **kwargs)
    result = finder.range_test(batches, start_lr=0.0, end_lr=3.0, num_iter=30, diverge_th=1e9)
    for name, tensor in model.state_dict().items():  # restored, as without clipping
        assert torch.equal(tensor, before[name])
    return result.lrs.tolist(), result.losses.tolist()


@pytest.mark.parametrize("clip, threshold", [("norm", 0.5), ("value", 0.05)])
def test_clipping_matches_a_clipping_training_loop(clip, threshold):
    lrs, losses = finder_losses(clip, threshold)
    assert losses == manual_losses(lrs, clip, threshold)
    plain_lrs, plain = finder_losses(None, threshold)
    assert plain == manual_losses(plain_lrs, None, threshold)
    assert plain != losses  # the clipping was active: the curves differ


@settings(max_examples=10, deadline=None)
@given(threshold=st.floats(0.05, 5.0), seed=st.integers(0, 3))
def test_norm_clipping_any_threshold(threshold, seed):
    lrs, losses = finder_losses("norm", threshold, seed)
    assert losses == manual_losses(lrs, "norm", threshold, seed)


@pytest.mark.parametrize("kwargs, error", [
    ({"max_grad_norm": 0.0}, ValueError),
    ({"max_grad_norm": -1.0}, ValueError),
    ({"max_grad_value": float("nan")}, ValueError),
    ({"max_grad_norm": "1"}, TypeError),
    ({"max_grad_norm": True}, TypeError),
    ({"max_grad_norm": 1.0, "max_grad_value": 1.0}, ValueError),
    ({"max_grad_norm": 1.0, "clip_fn": print}, ValueError),
    ({"max_grad_value": 1.0, "clip_fn": print}, ValueError),
])
def test_bad_clipping_options(kwargs, error):
    model, optimizer, _ = setup()
    with pytest.raises(error, match="max_grad_"):
        LRFinder(model, optimizer, nn.CrossEntropyLoss(), **kwargs)


def test_clipping_with_a_disabled_grad_scaler():
    """A GradScaler that is not enabled (CPU, no fp16) leaves the clipped steps as they are."""
    model, optimizer, batches = setup()
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), scaler=scaler, max_grad_norm=0.5, progress=False)
    result = finder.range_test(batches, start_lr=0.0, end_lr=3.0, num_iter=30, diverge_th=1e9)
    assert result.losses.tolist() == manual_losses(result.lrs.tolist(), "norm", 0.5)


def test_clipping_unscales_first_under_an_enabled_grad_scaler():
    """Under AMP the gradients are unscaled before they are clipped, as torch's AMP recipe does."""
    model, optimizer, batches = setup()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), scaler=scaler, max_grad_norm=0.5, progress=False)
    result = finder.range_test(batches, start_lr=0.0, end_lr=3.0, num_iter=30, diverge_th=1e9)
    assert scaler.get_scale() == 1024.0  # restored
    expected = manual_losses(result.lrs.tolist(), "norm", 0.5, scaler=torch.amp.GradScaler("cpu", init_scale=1024.0))
    assert result.losses.tolist() == expected


def per_layer_clip(optimizer: torch.optim.Optimizer) -> None:
    """A loop's own clipping: each parameter's gradient norm to 0.2 on its own."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                torch.nn.utils.clip_grad_norm_([p], 0.2)


def test_clip_fn_runs_where_the_loop_clips():
    """``clip_fn`` gets the optimizer with the summed gradients, before each step: as a loop that clips per layer."""
    model, optimizer, batches = setup()
    calls = []

    def clip(opt: torch.optim.Optimizer) -> None:
        assert opt is optimizer
        assert all(p.grad is not None for p in model.parameters())
        calls.append(1)
        per_layer_clip(opt)

    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), clip_fn=clip, progress=False)
    result = finder.range_test(batches, start_lr=0.0, end_lr=3.0, num_iter=30, diverge_th=1e9)
    assert len(calls) == 30

    model, optimizer, batches = setup()  # the same steps by hand
    criterion = nn.CrossEntropyLoss()
    expected = []
    for i, lr in enumerate(result.lrs.tolist()):
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(batches[i % len(batches)][0]), batches[i % len(batches)][1])
        loss.backward()
        per_layer_clip(optimizer)
        optimizer.step()
        expected.append(float(loss.detach()))
    assert result.losses.tolist() == expected
    assert expected != finder_losses(None, 0.0)[1]  # the clipping was active


def test_clip_fn_sees_unscaled_gradients_under_an_enabled_grad_scaler():
    model, optimizer, batches = setup()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    norms = []

    def clip(opt: torch.optim.Optimizer) -> None:
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))

    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), scaler=scaler, clip_fn=clip, progress=False)
    result = finder.range_test(batches, start_lr=0.0, end_lr=3.0, num_iter=30, diverge_th=1e9)
    expected = manual_losses(result.lrs.tolist(), "norm", 0.5, scaler=torch.amp.GradScaler("cpu", init_scale=1024.0))
    assert result.losses.tolist() == expected
    assert max(norms) < 1e3  # unscaled: a scale of 1024 would show in the norms


def test_clip_fn_must_be_callable():
    model, optimizer, _ = setup()
    with pytest.raises(TypeError, match="clip_fn"):
        LRFinder(model, optimizer, nn.CrossEntropyLoss(), clip_fn=1.0)
