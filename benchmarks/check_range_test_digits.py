"""Do the range test's bounds work? CLR with them vs a grid of constant LRs on digits.

scikit-learn's bundled ``load_digits`` (1,797 real 8x8 images), a 64-64-10 MLP,
SGD (momentum 0.9 and weight decay 5e-4 unless told otherwise), batch 32. The automatic range test (coarse exponential
sweep, then the paper's linear sweep with validation accuracy) runs on a
validation split; its default reading gives (base_lr, max_lr). Every policy
then trains from the same seeds; test accuracy is measured after every epoch
and averaged over seeds. Reported: the best constant LR's final accuracy and
the first epoch at which each policy's mean accuracy reaches it.

    python benchmarks/check_range_test_digits.py [--seeds 5] [--epochs 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from cyclr.suggest import NoSuggestionError
from cyclr.torch import CyclicLR, LRFinder

BATCH = 32


def splits() -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.2, random_state=0, stratify=y_train)
    return tuple((torch.tensor(a), torch.tensor(b)) for a, b in ((x_train, y_train), (x_val, y_val), (x_test, y_test)))


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class Batches:
    """Shuffled in-memory mini-batches, a new order every pass."""

    def __init__(self, data: tuple[torch.Tensor, torch.Tensor], seed: int, shuffle: bool = True) -> None:
        self.x, self.y = data
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // BATCH)

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(0, n, BATCH):
            index = order[i : i + BATCH]
            yield self.x[index], self.y[index]


@torch.no_grad()
def accuracy(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    return float((model(data[0]).argmax(1) == data[1]).float().mean())


def make_optimizer(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=args.momentum, weight_decay=args.weight_decay)


def train(train_data, test_data, seed: int, args: argparse.Namespace, make_scheduler) -> np.ndarray:
    model = make_model(100 + seed)
    opt = make_optimizer(model, args)
    scheduler = make_scheduler(opt)
    loader = Batches(train_data, seed=1000 + seed)
    accs = []
    for _ in range(args.epochs):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
        accs.append(accuracy(model, test_data))
    return np.array(accs)


def constant(lr: float):
    def make(opt: torch.optim.Optimizer) -> None:
        for group in opt.param_groups:
            group["lr"] = lr

    return make


def first_epoch(curve: np.ndarray, target: float) -> int | None:
    hits = np.flatnonzero(curve >= target - 1e-9)
    return int(hits[0]) + 1 if hits.size else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--epochs-per-step", type=float, default=2.0)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--constant-lrs", default="0.01,0.03,0.1,0.2,0.3", help="comma-separated grid")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_data, val_data, test_data = splits()
    iterations_per_epoch = len(Batches(train_data, 0))
    print(f"digits: {len(train_data[0])} train / {len(val_data[0])} val / {len(test_data[0])} test, "
          f"{iterations_per_epoch} iterations per epoch, {args.seeds} seeds, {args.epochs} epochs, "
          f"SGD momentum {args.momentum:g}, weight decay {args.weight_decay:g}")

    bounds_by_seed = []
    for seed in range(args.seeds):
        model = make_model(seed)
        opt = make_optimizer(model, args)
        start = time.perf_counter()
        result = LRFinder(model, opt, nn.CrossEntropyLoss(), progress=False).range_test(
            Batches(train_data, seed), Batches(val_data, 0, shuffle=False)
        )
        head = (f"range test seed {seed}: {time.perf_counter() - start:.1f}s, coarse {len(result.coarse)} steps "
                f"({result.coarse.stop_reason}), linear 0..{result.lrs[-1]:.3g} over {len(result)} steps -> ")
        try:
            bounds = result.suggest()
        except NoSuggestionError as exc:
            print(head + f"no suggestion: {exc}")
            continue
        bounds_by_seed.append((seed, bounds))
        print(head + f"base_lr={bounds.base_lr:.3g} max_lr={bounds.max_lr:.3g} "
              f"(peak of val accuracy at {bounds.details['peak_lr']:.3g})")
    if not bounds_by_seed:
        raise SystemExit("no range test gave a suggestion")
    seed, bounds = bounds_by_seed[0]
    print(f"using the bounds of range-test seed {seed}: {bounds}")

    curves: dict[str, np.ndarray] = {}
    spreads: dict[str, float] = {}
    for lr in (float(v) for v in args.constant_lrs.split(",")):
        runs = np.array([train(train_data, test_data, s, args, constant(lr)) for s in range(args.seeds)])
        curves[f"constant {lr:g}"], spreads[f"constant {lr:g}"] = runs.mean(0), runs[:, -1].std()
    kwargs = bounds.cyclic_lr_kwargs(iterations_per_epoch, args.epochs_per_step, cycle_momentum=False)
    runs = np.array([train(train_data, test_data, s, args, lambda o: CyclicLR(o, **kwargs))
                     for s in range(args.seeds)])
    clr = f"CLR triangular {bounds.base_lr:.3g}..{bounds.max_lr:.3g}, step {kwargs['step_size_up']}"
    curves[clr], spreads[clr] = runs.mean(0), runs[:, -1].std()

    best = max((k for k in curves if k.startswith("constant")), key=lambda k: curves[k][-1])
    target = curves[best][-1]
    levels = (0.95, 0.96, 0.97, target)
    print(f"\ntarget: best constant LR ({best}) final mean test accuracy {target:.4f}")
    print(f"{'policy':<40} {'final':>7} {'+-sd':>6} {'best':>7}   first epoch reaching "
          + " ".join(f"{v:.4f}" for v in levels))
    for name, curve in curves.items():
        hits = " ".join(f"{first_epoch(curve, v) or '-':>6}" for v in levels)
        print(f"{name:<40} {curve[-1]:7.4f} {spreads[name]:6.4f} {curve.max():7.4f}   {hits}")
    cycle = 2 * kwargs["step_size_up"] / iterations_per_epoch
    ends = [e for e in range(1, args.epochs + 1) if abs(e / cycle - round(e / cycle)) < 1e-9]
    print("CLR at cycle ends (epoch: accuracy): " + ", ".join(f"{e}: {curves[clr][e - 1]:.4f}" for e in ends))
    hit_clr, hit_best = first_epoch(curves[clr], target), first_epoch(curves[best], target)
    if hit_clr and hit_best:
        print(f"CLR reached the target at epoch {hit_clr} vs {hit_best} for {best}: {hit_best / hit_clr:.2f}x sooner")
    else:
        print(f"CLR did not reach the target within {args.epochs} epochs")

if __name__ == "__main__":
    main()
