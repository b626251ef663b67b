"""transformers.Trainer: range test on the Trainer's own data and loss, then CLR - one extra line.

A tiny randomly initialised BERT on synthetic tokens (label 1 when token 7
occurs), so nothing is downloaded. The range test reads the bounds off the
accuracy on the eval set's first batches, as the paper does.

    python examples/hf_trainer_tiny.py [--quick]
"""

from __future__ import annotations

import argparse

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import cyclr.transformers


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int, length: int = 12, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(10, 100, (n, length), generator=g)
        self.labels = (torch.rand(n, generator=g) < 0.5).long()
        self.ids[self.labels == 1, 3] = 7

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 samples, 2 epochs")
    parser.add_argument("--out", default="runs/hf_trainer_tiny")
    args = parser.parse_args()

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    model = BertForSequenceClassification(config)
    training = TrainingArguments(output_dir=args.out, per_device_train_batch_size=16,
                                 num_train_epochs=2 if args.quick else 8, report_to=[], use_cpu=True,
                                 save_strategy="no", logging_strategy="no", disable_tqdm=args.quick)
    trainer = Trainer(model=model, args=training, train_dataset=Tokens(128 if args.quick else 1024),
                      eval_dataset=Tokens(256, seed=1))
    callback = cyclr.transformers.attach(trainer, epochs_per_step=0.5 if args.quick else 2)
    output = trainer.train()
    print(f"bounds: {callback.bounds.base_lr:.4g} .. {callback.bounds.max_lr:.4g} ({callback.bounds.method})")
    print(f"train loss: {output.training_loss:.3f}, eval loss: {trainer.evaluate()['eval_loss']:.3f}")


if __name__ == "__main__":
    main()
