"""Range-test overhead: cyclr's LRFinder vs a bare training loop vs torch-lr-finder.

All three run the same number of SGD steps of the same model on the same
batches (an in-memory DataLoader that yields whole batches), in one process,
interleaved over several rounds; the median time of each is reported with its
ratio to the bare loop. Both range tests include their state save and restore
(torch-lr-finder's ``reset()``), and their progress bars (torch-lr-finder always
draws one; output goes to a null stream). torch-lr-finder is optional:

    pip install torch-lr-finder
    python benchmarks/bench_range_test.py [--steps 300] [--rounds 5] [--hidden 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, TensorDataset

from cyclr.torch import LRFinder

START_LR, END_LR = 1e-6, 1e-3  # a sweep that never diverges: every run makes all its steps


def make_loader(batch: int, batches: int, features: int) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch * batches, features, generator=g)
    y = torch.randint(0, 10, (batch * batches,), generator=g)
    data = TensorDataset(x, y)
    # one index list per batch: the loader hands out whole tensors, no per-sample collate
    return DataLoader(data, sampler=BatchSampler(SequentialSampler(data), batch, drop_last=True), batch_size=None)


def make_model(features: int, hidden: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def bare_loop(model: nn.Module, loader: DataLoader, steps: int) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=START_LR, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    done = 0
    while done < steps:
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            criterion(model(x), y).backward()
            opt.step()
            done += 1
            if done == steps:
                break


def cyclr_finder(progress: bool) -> Callable[[nn.Module, DataLoader, int], None]:
    def run(model: nn.Module, loader: DataLoader, steps: int) -> None:
        opt = torch.optim.SGD(model.parameters(), lr=START_LR, momentum=0.9)
        result = LRFinder(model, opt, nn.CrossEntropyLoss(), progress=progress).range_test(
            loader, start_lr=START_LR, end_lr=END_LR, num_iter=steps, step_mode="exp"
        )
        if len(result) != steps:
            raise RuntimeError(f"cyclr made {len(result)} of {steps} steps ({result.stop_reason})")

    return run


def run_torch_lr_finder(model: nn.Module, loader: DataLoader, steps: int) -> None:
    from torch_lr_finder import LRFinder as PeerFinder

    opt = torch.optim.SGD(model.parameters(), lr=START_LR, momentum=0.9)
    finder = PeerFinder(model, opt, nn.CrossEntropyLoss(), device="cpu")
    finder.range_test(loader, start_lr=START_LR, end_lr=END_LR, num_iter=steps, step_mode="exp")
    if len(finder.history["lr"]) != steps:
        raise RuntimeError(f"torch-lr-finder made {len(finder.history['lr'])} of {steps} steps")
    finder.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    contenders: dict[str, Callable[[nn.Module, DataLoader, int], None]] = {
        "bare loop": bare_loop,
        "cyclr LRFinder, no bar": cyclr_finder(False),
        "cyclr LRFinder, tqdm bar": cyclr_finder(True),
    }
    try:
        import torch_lr_finder  # noqa: F401

        contenders["torch-lr-finder 'reset()' incl."] = run_torch_lr_finder
    except ImportError:
        print("torch-lr-finder is not installed (pip install torch-lr-finder): comparing with the bare loop only")

    loader = make_loader(args.batch, 50, args.features)
    model = make_model(args.features, args.hidden)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    sink = io.StringIO()
    bare_loop(model, loader, 20)  # warm up allocator and kernels
    names = list(contenders)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order every round
            with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
                start = time.perf_counter()
                contenders[name](model, loader, args.steps)
                times[name].append(time.perf_counter() - start)
            sink.seek(0)
            sink.truncate()

    params = sum(p.numel() for p in model.parameters())
    print(f"{args.steps} SGD steps, MLP {args.features}-{args.hidden}-{args.hidden}-10 ({params:,} parameters), "
          f"batch {args.batch}, {args.threads} thread(s), median of {args.rounds} interleaved rounds")
    base = statistics.median(times["bare loop"])
    print(f"{'':34} {'median s':>9} {'ms/step':>8} {'vs bare':>8}")
    for name, values in times.items():
        t = statistics.median(values)
        print(f"{name:34} {t:9.3f} {1e3 * t / args.steps:8.3f} {t / base:8.3f}")
    peer = next((n for n in times if n.startswith("torch-lr-finder")), None)
    if peer:
        ratio = statistics.median(times[peer]) / statistics.median(times["cyclr LRFinder, tqdm bar"])
        print(f"torch-lr-finder / cyclr (both with bars): {ratio:.3f}")


if __name__ == "__main__":
    main()
