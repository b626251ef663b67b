"""The range test and the schedulers under torch.distributed: 2 CPU processes, gloo backend.

Each test spawns two ranks; every rank writes what it saw to a file that the
test then compares (curves, stop steps, restored state, LRs).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import cyclr.torch as ct
from cyclr.torch import LRFinder, distributed

WORLD = 2
REPO = Path(__file__).resolve().parents[1]


def run_ranks(worker: Any, tmp_path: Path, *args: Any) -> list[dict[str, Any]]:
    mp.start_processes(worker, args=(str(tmp_path), *args), nprocs=WORLD, start_method="spawn", join=True)
    return [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]


def init(rank: int, tmp: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/store", rank=rank, world_size=WORLD)


def finish(rank: int, tmp: str, out: dict[str, Any]) -> None:
    Path(tmp, f"rank{rank}.pkl").write_bytes(pickle.dumps(out))
    dist.barrier()
    dist.destroy_process_group()


def shard(rank: int, n: int = 128, batch: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A different slice of one classification problem on every rank."""
    g = torch.Generator().manual_seed(100 + rank)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)]


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {
        "params": [t.detach().clone() for t in [*model.parameters(), *model.buffers()]],
        "optimizer": pickle.dumps(optimizer.state_dict()),
        "rng": torch.get_rng_state(),
    }


def range_test_worker(rank: int, tmp: str, bad_rank: int | None, bad_step: int) -> None:
    init(rank, tmp)
    torch.manual_seed(0)  # the same initial model on both ranks (DDP also broadcasts it)
    model = DDP(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cross_entropy = nn.CrossEntropyLoss()
    local_losses: list[float] = []

    def criterion(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = cross_entropy(outputs, targets)
        if model.training:  # record this rank's own training losses
            if rank == bad_rank and len(local_losses) == bad_step:
                loss = loss * float("nan")
            local_losses.append(loss.item())
        return loss

    torch.manual_seed(1234 + rank)
    before = snapshot(model, optimizer)
    finder = LRFinder(model, optimizer, criterion, progress=False)
    result = finder.range_test(
        shard(rank), val_loader=shard(rank + 10, n=64), start_lr=0.01, end_lr=2.0, num_iter=24, val_every=6,
        sync_every=4,
    )
    after = snapshot(model, optimizer)
    restored = all(torch.equal(a, b) for a, b in zip(before["params"], after["params"]))
    finish(
        rank,
        tmp,
        {
            "lrs": [float(v) for v in result.lrs],
            "losses": [float(v) for v in result.losses],
            "metrics": {k: [float(v) for v in vs] for k, vs in result.metrics.items()},
            "stop": result.stop_reason,
            "local": local_losses,
            "restored": restored and before["optimizer"] == after["optimizer"] and torch.equal(before["rng"], after["rng"]),
            "main": distributed.is_main_process(),
            "world": distributed.world_size(),
        },
    )


def test_range_test_curves_are_identical_across_ranks_and_the_mean_of_local_losses(tmp_path):
    ranks = run_ranks(range_test_worker, tmp_path, None, 0)
    assert [r["main"] for r in ranks] == [True, False] and ranks[0]["world"] == WORLD
    a, b = ranks
    assert a["stop"] == b["stop"] == "finished"
    assert a["lrs"] == b["lrs"] and a["losses"] == b["losses"] and a["metrics"] == b["metrics"]
    assert len(a["losses"]) == 24
    assert a["local"] != b["local"]  # the ranks really trained on different shards
    expected = [(x + y) / 2 for x, y in zip(a["local"], b["local"])]
    assert a["losses"] == pytest.approx(expected, rel=1e-6)
    assert set(a["metrics"]) >= {"val_loss", "val_accuracy"}
    assert all(r["restored"] for r in ranks)


def test_non_finite_loss_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    ranks = run_ranks(range_test_worker, tmp_path, 1, 9)
    a, b = ranks
    assert a["stop"] == b["stop"] == "non_finite"
    assert len(a["losses"]) == len(b["losses"]) == 9
    assert a["losses"] == b["losses"]
    assert all(r["restored"] for r in ranks)


def scheduler_worker(rank: int, tmp: str) -> None:
    init(rank, tmp)
    torch.manual_seed(0)
    model = DDP(nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    cyclic = ct.CyclicLR(optimizer, base_lr=0.001, max_lr=0.006, step_size_up=5, mode="exp_range", gamma=0.95)
    lrs, betas = [], []
    checkpoint = Path(tmp, "checkpoint.pt")
    for step in range(12):
        loss = model(torch.randn(3, 4)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        cyclic.step()
        lrs.append(cyclic.get_last_lr()[0])
        betas.append(optimizer.param_groups[0]["betas"][0])
        if step == 6 and distributed.is_main_process():
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": cyclic.state_dict()}, checkpoint)
    dist.barrier()
    saved = torch.load(checkpoint, weights_only=True)
    resumed_opt = torch.optim.Adam(model.parameters(), lr=0.001)
    resumed = ct.CyclicLR(resumed_opt, base_lr=0.001, max_lr=0.006, step_size_up=5, mode="exp_range", gamma=0.95)
    resumed_opt.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    resumed_lrs = []
    for _ in range(5):
        resumed_opt.step()
        resumed.step()
        resumed_lrs.append(resumed.get_last_lr()[0])

    one_cycle = ct.OneCycleLR(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), max_lr=0.1, total_steps=20)
    one_cycle_lrs = []
    for _ in range(19):
        one_cycle.optimizer.step()
        one_cycle.step()
        one_cycle_lrs.append(one_cycle.get_last_lr()[0])
    finish(rank, tmp, {"lrs": lrs, "betas": betas, "resumed": resumed_lrs, "one_cycle": one_cycle_lrs})


def test_schedulers_agree_across_ranks_and_resume_from_rank0_checkpoint(tmp_path):
    a, b = run_ranks(scheduler_worker, tmp_path)
    assert a == b
    assert a["resumed"] == a["lrs"][7:12]


def test_not_distributed_means_no_collective():
    assert not distributed.is_distributed()
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main_process()
    values = torch.tensor([1.0, 2.0])
    assert distributed.reduce(values, average=True) is values


def test_torchrun_example_runs_on_cpu(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}",
         str(REPO / "examples" / "ddp_range_test.py"), "--num-iter", "40", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "suggested bounds" in result.stdout
    assert (tmp_path / "range_test.json").exists()
    assert result.stdout.count("suggested bounds") == 1  # only rank 0 reports
