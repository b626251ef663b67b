"""cyclr.lightning.CyclicLRCallback with real Lightning on CPU: a tiny MLP on sklearn's digits."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cyclr.lightning import CyclicLRCallback
from cyclr.torch import CyclicLR
from helpers import run_python

SMALL_TEST = {"num_iter": 60, "coarse_iter": 30}


@pytest.fixture(autouse=True)
def one_thread():
    # two shared cores: torch's thread pool only adds contention for a model this small
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def digits(batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    train = TensorDataset(x[:1024], y[:1024])
    val = TensorDataset(x[1024:1424], y[1024:1424])
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(val, batch_size=200)


class Digits(L.LightningModule):
    def __init__(self, with_scheduler: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        self.with_scheduler = with_scheduler

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)  # must not fail during the range test
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        if self.with_scheduler:
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 5)]
        return optimizer


class LRLog(L.Callback):
    """The LR of every optimizer step, read before the step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


class Snapshot(L.Callback):
    """Model and optimizer state when training starts (placed before the callback under test)."""

    def on_train_start(self, trainer, pl_module):
        self.params = {k: v.clone() for k, v in pl_module.state_dict().items()}
        self.rng = torch.get_rng_state()
        self.optimizer_state = trainer.optimizers[0].state_dict()


class Compare(L.Callback):
    """Placed after the callback under test: what it left behind."""

    def on_train_start(self, trainer, pl_module):
        self.params = {k: v.clone() for k, v in pl_module.state_dict().items()}
        self.grads = [p.grad for p in pl_module.parameters()]
        self.rng = torch.get_rng_state()
        self.optimizer_state = trainer.optimizers[0].state_dict()


def trainer(tmp_path: Path, callbacks: list, max_epochs: int = 2, **kwargs) -> L.Trainer:
    options = dict(accelerator="cpu", max_epochs=max_epochs, callbacks=callbacks, logger=False,
                   enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                   default_root_dir=tmp_path)
    return L.Trainer(**(options | kwargs))


def test_bounds_reach_the_schedule_and_the_model_is_restored(tmp_path):
    torch.manual_seed(0)
    train, val = digits()
    cyc = CyclicLRCallback(epochs_per_step=0.5, range_test=SMALL_TEST)
    before, after, lr_log = Snapshot(), Compare(), LRLog()
    trainer(tmp_path, [before, cyc, after, lr_log]).fit(Digits(), train, val)

    # the range test ran with the validation metric the module logs: the paper's reading
    assert "val_acc" in cyc.result.metrics
    assert cyc.bounds.method == "metric"
    # restored bit for bit: weights, no gradients, empty optimizer state, RNG
    for k, v in before.params.items():
        assert torch.equal(v, after.params[k]), k
    assert all(g is None for g in after.grads)
    assert after.optimizer_state["state"] == {}
    assert torch.equal(before.rng, after.rng)
    assert after.optimizer_state["param_groups"][0]["momentum"] == 0.9  # momentum left alone by default
    # training ran between the suggested bounds, a whole cycle every epoch (16 steps)
    assert isinstance(cyc.scheduler, CyclicLR)
    assert cyc.scheduler.step_size_up == 8
    assert len(lr_log.lrs) == 32
    assert min(lr_log.lrs) == pytest.approx(cyc.bounds.base_lr)
    assert max(lr_log.lrs) == pytest.approx(cyc.bounds.max_lr)
    assert lr_log.lrs[0] == pytest.approx(cyc.bounds.base_lr) and lr_log.lrs[8] == pytest.approx(cyc.bounds.max_lr)
    assert {p.name for p in tmp_path.iterdir()} >= {"cyclr_range_test.json", "cyclr_range_test.csv",
                                                    "cyclr_range_test.png"}
    saved = json.loads((tmp_path / "cyclr_range_test.json").read_text())
    assert saved["lrs"] == cyc.result.lrs.tolist()


def test_a_scheduler_from_configure_optimizers_is_replaced_with_a_warning(tmp_path):
    torch.manual_seed(0)
    train, val = digits()
    cyc = CyclicLRCallback(step_size_up=5, range_test=SMALL_TEST, save=False)
    with pytest.warns(UserWarning, match=r"replaces the scheduler from configure_optimizers \(StepLR\)"):
        t = trainer(tmp_path, [cyc], max_epochs=1)
        t.fit(Digits(with_scheduler=True), train, val)
    assert [type(c.scheduler) for c in t.lr_scheduler_configs] == [CyclicLR]
    assert t.lr_scheduler_configs[0].interval == "step"
    assert cyc.scheduler.step_size_up == 5
    assert not (tmp_path / "cyclr_range_test.json").exists()


def test_without_validation_the_training_loss_is_read(tmp_path):
    torch.manual_seed(0)
    train, _ = digits()
    cyc = CyclicLRCallback(policy="1cycle", range_test=SMALL_TEST, save=False)
    t = trainer(tmp_path, [cyc], max_epochs=1)
    t.fit(Digits(), train)
    assert cyc.result.metrics == {}
    assert cyc.bounds.method == "valley"
    assert cyc.scheduler.total_steps == 16
    assert max(cyc.scheduler.get_last_lr()) <= cyc.bounds.max_lr


def test_resume_continues_the_cycle_exactly(tmp_path):
    train, val = digits()

    def run(max_epochs: int, ckpt_path: str | None, folder: Path) -> tuple[CyclicLRCallback, LRLog]:
        torch.manual_seed(0)
        cyc, lr_log = CyclicLRCallback(step_size_up=12, mode="triangular2", range_test=SMALL_TEST, save=False), LRLog()
        ckpt = ModelCheckpoint(dirpath=folder, save_last=True)
        t = trainer(folder, [cyc, lr_log, ckpt], max_epochs=max_epochs, enable_checkpointing=True)
        t.fit(Digits(), train, val, ckpt_path=ckpt_path)
        return cyc, lr_log

    full_cyc, full = run(4, None, tmp_path / "full")
    run(2, None, tmp_path / "part")
    resumed_cyc, resumed = run(4, str(tmp_path / "part" / "last.ckpt"), tmp_path / "part")
    assert resumed_cyc.result is None  # no second range test
    assert resumed_cyc.bounds.base_lr == full_cyc.bounds.base_lr
    assert len(full.lrs) == 64 and len(resumed.lrs) == 32
    assert resumed.lrs == full.lrs[32:]
    assert resumed_cyc.scheduler.last_epoch == full_cyc.scheduler.last_epoch


def test_bad_arguments():
    with pytest.raises(ValueError, match="policy"):
        CyclicLRCallback(policy="cosine")
    with pytest.raises(ValueError, match="mode"):
        CyclicLRCallback(mode="sine")
    with pytest.raises(ValueError, match="epochs_per_step"):
        CyclicLRCallback(epochs_per_step=0)
    with pytest.raises(ValueError, match="step_size_up"):
        CyclicLRCallback(step_size_up=0)
    with pytest.raises(ValueError, match="val_batches"):
        CyclicLRCallback(val_batches=-1)
    with pytest.raises(ValueError, match=r"unknown options \['lr'\]"):
        CyclicLRCallback(range_test={"lr": 1})
    with pytest.raises(TypeError, match="cycle_momentum"):
        CyclicLRCallback(cycle_momentum="yes")
    with pytest.raises(ValueError, match="max_momentum"):
        CyclicLRCallback(cycle_momentum=True, base_momentum=0.95, max_momentum=0.9)


def test_manual_optimization_is_refused(tmp_path):
    class Manual(Digits):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            return None

    train, _ = digits()
    with pytest.raises(ValueError, match="automatic_optimization=False"):
        trainer(tmp_path, [CyclicLRCallback()], max_epochs=1).fit(Manual(), train)


DDP_SCRIPT = '''
import json, os, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
import lightning as L
from test_lightning import Digits, LRLog, digits
from cyclr.lightning import CyclicLRCallback

out = sys.argv[1]
torch.manual_seed(0)
train, val = digits()
cyc, lr_log = CyclicLRCallback(epochs_per_step=1, range_test={{"num_iter": 40, "coarse_iter": 20}}), LRLog()
trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, callbacks=[cyc, lr_log],
                    logger=False, enable_progress_bar=False, enable_model_summary=False,
                    enable_checkpointing=False, default_root_dir=out)
trainer.fit(Digits(), train, val)
sampler = trainer.train_dataloader.sampler
report = {{"rank": trainer.global_rank, "base_lr": cyc.bounds.base_lr, "max_lr": cyc.bounds.max_lr,
          "step_size_up": cyc.scheduler.step_size_up, "batches": trainer.num_training_batches,
          "sampler": type(sampler).__name__, "losses": cyc.result.losses.tolist(), "lrs": lr_log.lrs}}
with open(os.path.join(out, f"rank{{trainer.global_rank}}.json"), "w") as f:
    json.dump(report, f)
'''


def test_ddp_ranks_agree_on_bounds_and_use_their_shard(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    run_python([str(script), str(tmp_path)], tmp_path, ports=True)  # Lightning starts the second rank
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["sampler"] == "DistributedSampler"
    # 1024 samples, 2 ranks, batches of 64: 8 batches per rank, so half a cycle (1 epoch) is 8 steps
    assert ranks[0]["batches"] == ranks[1]["batches"] == 8
    assert ranks[0]["step_size_up"] == ranks[1]["step_size_up"] == 8
    for key in ("base_lr", "max_lr", "losses", "lrs"):
        assert ranks[0][key] == ranks[1][key], key
    assert (tmp_path / "cyclr_range_test.json").exists()


@pytest.mark.parametrize("algorithm, option", [("norm", "max_grad_norm"), ("value", "max_grad_value")])
def test_the_trainers_gradient_clipping_applies_to_the_range_test(tmp_path, algorithm, option):
    """The range test steps as training does: with the Trainer's gradient_clip_val and algorithm."""
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x[:256] / 16.0, dtype=torch.float32), torch.tensor(y[:256]))
    sweep = {"start_lr": 0.0, "end_lr": 1.0, "num_iter": 40, "diverge_th": 1e9}

    def fit(**clip) -> CyclicLRCallback:
        torch.manual_seed(0)
        module = Digits()
        cyc = CyclicLRCallback(step_size_up=2, range_test=sweep, save=False, progress=False)
        trainer(tmp_path, [cyc], max_epochs=1, **clip).fit(module, DataLoader(data, batch_size=32))
        return cyc

    threshold = 0.05 if algorithm == "norm" else 0.002
    clipped = fit(gradient_clip_val=threshold, gradient_clip_algorithm=algorithm)
    plain = fit()
    assert clipped.result.losses.tolist() != plain.result.losses.tolist()

    # the same sweep by hand: LRFinder with the same clipping on the same batches and initial weights
    from cyclr.torch import LRFinder

    torch.manual_seed(0)
    module = Digits()
    optimizer = module.configure_optimizers()
    finder = LRFinder(module, optimizer, step_fn=lambda m, batch: m.training_step(batch, 0), progress=False,
                      **{option: threshold})
    with warnings.catch_warnings():  # training_step's self.log outside a Trainer warns
        warnings.simplefilter("ignore")
        expected = finder.range_test(DataLoader(data, batch_size=32), **sweep)
    assert clipped.result.losses.tolist() == expected.losses.tolist()


class ClipsPerLayer(Digits):
    """A module that clips its own way: each parameter's gradient norm to a tenth of gradient_clip_val."""

    def __init__(self) -> None:
        super().__init__()
        self.clip_calls: list[tuple[float | None, str | None]] = []

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        self.clip_calls.append((gradient_clip_val, gradient_clip_algorithm))
        clip_per_layer(optimizer, 0.1 * (gradient_clip_val or 1.0))


def clip_per_layer(optimizer: torch.optim.Optimizer, threshold: float) -> None:
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                torch.nn.utils.clip_grad_norm_([p], threshold)


def test_a_modules_configure_gradient_clipping_applies_to_the_range_test(tmp_path):
    """Fit calls the module's own configure_gradient_clipping before each step; so does the range test."""
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x[:256] / 16.0, dtype=torch.float32), torch.tensor(y[:256]))
    sweep = {"start_lr": 0.0, "end_lr": 1.0, "num_iter": 40, "diverge_th": 1e9}
    torch.manual_seed(0)
    module = ClipsPerLayer()
    cyc = CyclicLRCallback(step_size_up=2, range_test=sweep, save=False, progress=False)
    trainer(tmp_path, [cyc], max_epochs=1, gradient_clip_val=0.5).fit(module, DataLoader(data, batch_size=32))
    # the 40 range-test steps, then the 8 steps of the epoch, each with the Trainer's settings
    assert len(module.clip_calls) == 48
    assert module.clip_calls[0][0] == 0.5

    from cyclr.torch import LRFinder

    def by_hand(clip_fn) -> list[float]:
        torch.manual_seed(0)
        module = Digits()
        finder = LRFinder(module, module.configure_optimizers(), step_fn=lambda m, batch: m.training_step(batch, 0),
                          clip_fn=clip_fn, progress=False)
        with warnings.catch_warnings():  # training_step's self.log outside a Trainer warns
            warnings.simplefilter("ignore")
            return finder.range_test(DataLoader(data, batch_size=32), **sweep).losses.tolist()

    assert cyc.result.losses.tolist() == by_hand(lambda optimizer: clip_per_layer(optimizer, 0.05))
    assert cyc.result.losses.tolist() != by_hand(None)
