"""Bundled tasks: offline loading, fixed splits, determinism, the registry."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cyclr.tasks
from cyclr.tasks import Task, TensorBatches, available_tasks, digits, load_task, mnist, register_task
from cyclr.tasks._base import stratified_split

SIZES = {"digits": (997, 300, 500), "mnist": (3500, 500, 1000)}
MODULES = {"digits": digits, "mnist": mnist}


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks registered by a test disappear after it."""
    monkeypatch.setattr(cyclr.tasks, "_REGISTERED", dict(cyclr.tasks._REGISTERED))
    monkeypatch.setattr(cyclr.tasks, "_CACHE", dict(cyclr.tasks._CACHE))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_builtin_tasks_are_listed() -> None:
    assert available_tasks()[:2] == ["digits", "mnist"]


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_loads_offline_with_fixed_split_sizes(name: str, no_network: None) -> None:
    task = MODULES[name].load()
    assert (len(task.train), len(task.val), len(task.test)) == SIZES[name]
    assert task.name == name
    assert task.num_classes == 10
    for split in (task.train, task.val, task.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert 0.0 <= float(split.x.min()) and float(split.x.max()) <= 1.0
        # stratified: every class is present in every split
        assert set(split.y.tolist()) == set(range(10))


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_loading_twice_gives_identical_splits(name: str) -> None:
    first, second = MODULES[name].load(), MODULES[name].load()
    for a, b in ((first.train, second.train), (first.val, second.val), (first.test, second.test)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_mnist_rows_are_shuffled_before_the_split() -> None:
    # the packaged file is sorted by label; an unshuffled split would put only 9s in the test set
    task = load_task("mnist")
    assert len(set(task.train.y[:50].tolist())) > 5
    assert len(set(task.test.y[:50].tolist())) > 5


def test_splits_do_not_overlap() -> None:
    labels = np.repeat(np.arange(10), 50)
    train, val, test = stratified_split(labels, (60, 100), seed=0)
    assert (len(train), len(val), len(test)) == (340, 60, 100)
    assert len(set(train) | set(val) | set(test)) == len(labels)


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_model_fits_the_data(name: str) -> None:
    task = load_task(name)
    logits = task.build_model(0)(task.test.x[:7])
    assert logits.shape == (7, task.num_classes)
    assert task.iterations_per_epoch == -(-len(task.train) // task.batch_size)


def test_build_model_is_seeded_and_leaves_the_global_rng_alone() -> None:
    task = load_task("digits")
    before = torch.get_rng_state()
    a, b, c = task.build_model(1), task.build_model(1), task.build_model(2)
    assert torch.equal(torch.get_rng_state(), before)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), batch=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_batches_cover_every_sample_once_per_pass(n: int, batch: int, seed: int) -> None:
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    loader = TensorBatches(x, torch.arange(n), batch, seed=seed)
    assert len(loader) == -(-n // batch)
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        seen = torch.cat([bx.squeeze(1) for bx, _ in batches])
        assert sorted(seen.long().tolist()) == list(range(n))
        assert all(torch.equal(bx.squeeze(1).long(), by) for bx, by in batches)


def test_batch_order_depends_only_on_the_seed() -> None:
    x, y = torch.randn(40, 3), torch.arange(40)

    def order(seed: int) -> list[list[int]]:
        loader = TensorBatches(x, y, 8, seed=seed)
        return [b.tolist() for _ in range(2) for _, b in loader]

    assert order(3) == order(3)
    assert order(3) != order(4)
    first_pass, second_pass = order(3)[:5], order(3)[5:]
    assert first_pass != second_pass  # a new shuffle every pass
    unshuffled = [i for _, b in TensorBatches(x, y, 8, shuffle=False) for i in b.tolist()]
    assert unshuffled == list(range(40))


def test_batches_reject_mismatched_lengths_and_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="same length"):
        TensorBatches(torch.zeros(3, 1), torch.zeros(4), 2)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        TensorBatches(torch.zeros(3, 1), torch.zeros(3), 0)


def test_eval_loader_rejects_an_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be one of 'val', 'test'; got split='train'"):
        load_task("digits").eval_loader("train")


def test_unknown_task_names_the_choices() -> None:
    with pytest.raises(ValueError, match="task must be one of 'digits', 'mnist'.*got task='cifar'"):
        load_task("cifar")


def test_register_task_adds_a_task() -> None:
    digits_task = load_task("digits")
    small = dataclasses.replace(digits_task, name="digits-small", train=digits_task.val)
    register_task("digits-small", lambda: small)
    assert "digits-small" in available_tasks()
    assert load_task("digits-small") is small
    assert len(load_task("digits-small").train) == 300


def test_register_task_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        register_task("", lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="loader must be callable"):
        register_task("broken", "digits")  # type: ignore[arg-type]
    register_task("not-a-task", lambda: "digits")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="must return a cyclr.tasks.Task, got str"):
        load_task("not-a-task")
    assert isinstance(load_task("digits"), Task)
