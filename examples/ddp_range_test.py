"""The LR range test under torch.distributed (DDP), e.g. on CPU with gloo:

    torchrun --nproc_per_node=2 examples/ddp_range_test.py --out runs/ddp

Every rank trains on its own shard of scikit-learn's digits; cyclr averages the
step losses and validation metrics across ranks, so all ranks record the same
curve, stop together and get the same bounds. Only rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.distributed as dist
from sklearn.datasets import load_digits
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import cyclr
from cyclr.torch import LRFinder, distributed


def digits() -> tuple[TensorDataset, TensorDataset]:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:1400], order[1400:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-iter", type=int, default=200, help="steps of the linear sweep")
    parser.add_argument("--end-lr", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("runs/ddp"))
    args = parser.parse_args()

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    device = torch.device("cuda", dist.get_rank() % torch.cuda.device_count()) if backend == "nccl" else None
    if device is not None:
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device or "cpu")
    model = DDP(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    train, val = digits()
    train_loader = DataLoader(train, batch_size=32, sampler=DistributedSampler(train, seed=0))
    val_loader = DataLoader(val, batch_size=128, sampler=DistributedSampler(val, shuffle=False))
    finder = LRFinder(model, optimizer, nn.CrossEntropyLoss(), device=device)
    result = finder.range_test(
        train_loader, val_loader, start_lr=0.0, end_lr=args.end_lr, num_iter=args.num_iter, step_mode="linear"
    )
    try:
        bounds: cyclr.Bounds | None = result.suggest()
    except cyclr.NoSuggestionError as err:  # the same answer on every rank
        bounds = None
        reason = str(err)
    if distributed.is_main_process():
        args.out.mkdir(parents=True, exist_ok=True)
        result.save(args.out / "range_test.json")
        print(f"{distributed.world_size()} ranks, {len(result)} steps, stopped: {result.stop_reason}")
        print(f"suggested bounds: {bounds}" if bounds is not None else f"suggested bounds: none ({reason})")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
