"""Accelerate: range test on prepared objects, then a CLR whose cycle counts optimizer steps.

    python examples/accelerate_digits.py [--quick]
    accelerate launch --cpu --num_processes 2 examples/accelerate_digits.py

Every process gets the same curve and bounds; the cycle is sized from the
prepared (per-process) loader, and prepare_scheduler steps it once per
optimizer step, whatever the number of processes.
"""

from __future__ import annotations

import argparse

import torch
from accelerate import Accelerator
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import cyclr
import cyclr.accelerate
from cyclr.torch import CyclicLR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short range test and 2 epochs")
    args = parser.parse_args()

    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y))
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(data, batch_size=64, shuffle=True)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    loss_fn = nn.CrossEntropyLoss()

    result = cyclr.accelerate.range_test(accelerator, model, optimizer, loader, loss_fn, start_lr=1e-4,
                                         end_lr=3.0, num_iter=60 if args.quick else 200)
    bounds = result.suggest()
    epochs = 2 if args.quick else 12
    step_size = cyclr.recommended_step_size(len(loader), epochs_per_step=0.5 if args.quick else 3)
    scheduler = cyclr.accelerate.prepare_scheduler(
        accelerator, CyclicLR(optimizer.optimizer, bounds.base_lr, bounds.max_lr, step_size, cycle_momentum=False))
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
    if accelerator.is_main_process:
        print(f"bounds: {bounds.base_lr:.4g} .. {bounds.max_lr:.4g} ({bounds.method}); step size {step_size}")
        print(f"last loss: {loss.item():.3f}")


if __name__ == "__main__":
    main()
