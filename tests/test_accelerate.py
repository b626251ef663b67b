"""cyclr.accelerate on two CPU processes (torch.distributed.run, gloo) against single-process references."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from accelerate import Accelerator

import cyclr.accelerate as ca
from cyclr.torch import CyclicLR
from helpers import run_python

SCRIPT = '''
import json, os, sys
import torch
torch.set_num_threads(1)
from accelerate import Accelerator
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import cyclr.accelerate
from cyclr.torch import CyclicLR

accelerator = Accelerator(cpu=True)
x, y = load_digits(return_X_y=True)
data = TensorDataset(torch.tensor(x[:1024] / 16.0, dtype=torch.float32), torch.tensor(y[:1024]))
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
spare = nn.Linear(1, 1)
spare_optimizer = torch.optim.SGD(spare.parameters(), lr=0.05)
loader = DataLoader(data, batch_size=32, shuffle=True)
model, optimizer, loader, spare_optimizer = accelerator.prepare(model, optimizer, loader, spare_optimizer)

before = [p.detach().clone() for p in model.parameters()]
iteration = loader.iteration
result = cyclr.accelerate.range_test(accelerator, model, optimizer, loader, nn.CrossEntropyLoss(),
                                     start_lr=0.0, end_lr=1.0, num_iter=30)
restored = all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
restored = restored and optimizer.state_dict()["state"] == {} and loader.iteration == iteration

scheduler = cyclr.accelerate.prepare_scheduler(
    accelerator, CyclicLR(optimizer.optimizer, 0.01, 0.1, step_size_up=5, cycle_momentum=False))
plain = accelerator.prepare(CyclicLR(spare_optimizer.optimizer, 0.01, 0.1, step_size_up=5, cycle_momentum=False))
lrs = []
loss_fn = nn.CrossEntropyLoss()
for step, (xb, yb) in enumerate(loader):
    if step == 12:
        break
    lrs.append(optimizer.param_groups[0]["lr"])
    optimizer.zero_grad()
    accelerator.backward(loss_fn(model(xb), yb))
    optimizer.step()
    spare_optimizer.step()
    scheduler.step()
    plain.step()
report = {"rank": accelerator.process_index, "processes": accelerator.num_processes, "batches": len(loader),
          "losses": result.losses.tolist(), "restored": restored, "lrs": lrs,
          "plain_last_epoch": plain.scheduler.last_epoch, "last_epoch": scheduler.scheduler.last_epoch}
with open(f"{sys.argv[1]}/rank{accelerator.process_index}.json", "w") as f:
    json.dump(report, f)
accelerator.end_training()
sys.stdout.flush(), sys.stderr.flush()
os._exit(0)  # skip interpreter teardown, where torch's gloo threads can abort a rank ('terminate called ...')
'''


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_lrs(steps: int) -> list[float]:
    """The LR before each of ``steps`` optimizer steps in one process without Accelerate."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    scheduler = CyclicLR(optimizer, 0.01, 0.1, step_size_up=5, cycle_momentum=False)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_two_processes_follow_the_single_process_cycle(tmp_path):
    script = tmp_path / "accelerate_two.py"
    script.write_text(SCRIPT)
    run_python([str(script), str(tmp_path)], tmp_path, processes=2)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["processes"] == 2 and ranks[0]["batches"] == 16  # each process its shard
    assert ranks[0]["losses"] == ranks[1]["losses"]  # one curve on both processes
    assert ranks[0]["restored"] and ranks[1]["restored"]
    for rank in ranks:
        assert rank["lrs"] == pytest.approx(reference_lrs(12), rel=1e-12)
        assert rank["last_epoch"] == 12
        assert rank["plain_last_epoch"] == 24  # accelerator.prepare(scheduler) counts steps x processes


def test_single_process_range_test_restores_prepared_objects():
    from torch import nn

    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = ca.range_test(accelerator, model, optimizer, loader, nn.CrossEntropyLoss(), start_lr=1e-4,
                           end_lr=1.0, num_iter=20)
    assert len(result) > 5
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert optimizer.state_dict()["state"] == {}
    assert loader.iteration == 0
    # the unfinished pass is closed: the loader no longer counts as the active one
    assert all(ref is not loader for ref in accelerator.gradient_state.dataloader_references)


def test_bad_arguments():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = CyclicLR(optimizer, 0.01, 0.1, cycle_momentum=False)
    with pytest.raises(TypeError, match="accelerator must be an accelerate.Accelerator"):
        ca.prepare_scheduler(object(), scheduler)
    with pytest.raises(TypeError, match="scheduler must be a torch LRScheduler"):
        ca.prepare_scheduler(Accelerator(cpu=True), "cyclic")
    with pytest.raises(TypeError, match="accelerator must be"):
        ca.range_test(None, torch.nn.Linear(1, 1), optimizer, [])


def clip_each_to(threshold: float):
    def clip(optimizer: torch.optim.Optimizer) -> None:
        for group in optimizer.param_groups:
            for p in group["params"]:
                torch.nn.utils.clip_grad_norm_([p], threshold)

    return clip


@pytest.mark.parametrize("option, tight, loose", [("max_grad_norm", 1e-3, 1e9), ("max_grad_value", 1e-4, 1e9),
                                                  ("clip_fn", clip_each_to(1e-3), clip_each_to(1e9))])
def test_range_test_clips_as_the_loop_does(option, tight, loose):
    from torch import nn

    def losses(**clip) -> list[float]:
        accelerator = Accelerator(cpu=True)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        g = torch.Generator().manual_seed(1)
        data = torch.utils.data.TensorDataset(torch.randn(64, 4, generator=g), torch.randint(0, 2, (64,), generator=g))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model, optimizer, loader = accelerator.prepare(model, optimizer, torch.utils.data.DataLoader(data, 16))
        result = ca.range_test(accelerator, model, optimizer, loader, nn.CrossEntropyLoss(), start_lr=0.0,
                               end_lr=2.0, num_iter=20, diverge_th=1e9, **clip)
        return result.losses.tolist()

    plain = losses()
    assert losses(**{option: tight}) != plain
    assert losses(**{option: loose}) == plain
    if option != "clip_fn":
        with pytest.raises(ValueError, match=option):
            losses(**{option: -1.0})
