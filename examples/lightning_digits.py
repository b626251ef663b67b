"""Lightning: range test at fit start, then CLR between its bounds - one callback.

    python examples/lightning_digits.py              # 12 epochs on scikit-learn's digits
    python examples/lightning_digits.py --quick      # a few seconds
"""

from __future__ import annotations

import argparse

import lightning as L
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cyclr.lightning import CyclicLRCallback


class Digits(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())  # the range test reads this

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short range test and 2 epochs")
    parser.add_argument("--out", default="runs/lightning_digits")
    args = parser.parse_args()

    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    train = DataLoader(TensorDataset(x[:1400], y[:1400]), batch_size=64, shuffle=True)
    val = DataLoader(TensorDataset(x[1400:], y[1400:]), batch_size=256)

    callback = CyclicLRCallback(epochs_per_step=0.5 if args.quick else 3,
                                range_test={"num_iter": 60, "coarse_iter": 30} if args.quick else None)
    trainer = L.Trainer(max_epochs=2 if args.quick else 12, accelerator="cpu", callbacks=[callback],
                        default_root_dir=args.out, logger=False, enable_checkpointing=False,
                        enable_progress_bar=not args.quick, enable_model_summary=False)
    trainer.fit(Digits(), train, val)
    print(f"bounds: {callback.bounds.base_lr:.4g} .. {callback.bounds.max_lr:.4g} ({callback.bounds.method})")
    print(f"val_acc: {trainer.callback_metrics['val_acc']:.3f}")


if __name__ == "__main__":
    main()
