"""cyclr.transformers with a real transformers.Trainer on CPU: a tiny random BERT on synthetic tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments

import cyclr.transformers as ct
from cyclr.torch import CyclicLR, LRFinder
from helpers import run_python

SMALL_TEST = {"start_lr": 1e-5, "end_lr": 1.0, "num_iter": 60}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Tokens(torch.utils.data.Dataset):
    """Label 1 when token 7 occurs in the sequence."""

    def __init__(self, n: int = 128, length: int = 12) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(10, 100, (n, length), generator=g)
        self.labels = (torch.rand(n, generator=g) < 0.5).long()
        self.ids[self.labels == 1, 3] = 7

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]), "labels": self.labels[i]}


def tiny_bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    return BertForSequenceClassification(config)


def arguments(tmp_path, **kwargs) -> TrainingArguments:
    options = dict(output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=2, report_to=[],
                   use_cpu=True, save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0,
                   dataloader_num_workers=0)
    return TrainingArguments(**(options | kwargs))


class Record(TrainerCallback):
    """The LR before each optimizer step, and the model/optimizer when training begins."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.betas: list[tuple[float, float]] = []
        self.params: dict[str, torch.Tensor] | None = None
        self.optimizer_state = None

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        self.params = {k: v.clone() for k, v in model.state_dict().items()}
        self.optimizer_state = optimizer.state_dict()

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])
        self.betas.append(tuple(optimizer.param_groups[0]["betas"]))


def test_attach_finds_bounds_on_dict_batches_and_cycles_between_them(tmp_path):
    before, after = Record(), Record()
    trainer = Trainer(model=tiny_bert(), args=arguments(tmp_path), train_dataset=Tokens(), callbacks=[before])
    cb = ct.attach(trainer, epochs_per_step=0.5, range_test=SMALL_TEST)
    trainer.add_callback(after)
    trainer.train()

    assert len(cb.result) > 10 and cb.result.metrics == {}
    for k, v in before.params.items():  # restored before training began
        assert torch.equal(v, after.params[k]), k
    assert after.optimizer_state["state"] == {}
    assert isinstance(trainer.lr_scheduler, CyclicLR) and trainer.lr_scheduler is cb.scheduler
    assert cb.scheduler.step_size_up == 4  # 8 batches per epoch, half a cycle = half an epoch
    assert len(after.lrs) == 16
    assert after.lrs[0] == pytest.approx(cb.bounds.base_lr)
    assert after.lrs[4] == pytest.approx(cb.bounds.max_lr)
    assert min(after.lrs) == pytest.approx(cb.bounds.base_lr) and max(after.lrs) == pytest.approx(cb.bounds.max_lr)
    assert set(after.betas) == {(0.9, 0.999)}  # AdamW's beta1 is not cycled by default
    assert (tmp_path / "cyclr_range_test.json").exists()


def test_resume_from_checkpoint_keeps_the_cycle(tmp_path):
    full = Record()
    args = arguments(tmp_path, save_strategy="steps", save_steps=6, num_train_epochs=3)
    trainer = Trainer(model=tiny_bert(), args=args, train_dataset=Tokens(), callbacks=[full])
    first = ct.attach(trainer, step_size_up=5, mode="triangular2", range_test=SMALL_TEST, save=False)
    trainer.train()

    resumed = Record()
    trainer = Trainer(model=tiny_bert(), args=args, train_dataset=Tokens(), callbacks=[resumed])
    again = ct.attach(trainer, step_size_up=5, mode="triangular2", range_test=SMALL_TEST, save=False)
    trainer.train(resume_from_checkpoint=str(tmp_path / "checkpoint-12"))
    assert again.result is None  # the bounds came from the checkpoint
    assert again.bounds.base_lr == pytest.approx(first.bounds.base_lr)
    assert len(full.lrs) == 24 and len(resumed.lrs) == 12
    assert resumed.lrs == full.lrs[12:]


def test_a_given_scheduler_is_replaced_with_a_warning_and_1cycle(tmp_path):
    model = tiny_bert()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 3)
    trainer = Trainer(model=model, args=arguments(tmp_path, num_train_epochs=1), train_dataset=Tokens(),
                      optimizers=(optimizer, scheduler))
    cb = ct.attach(trainer, policy="1cycle", range_test=SMALL_TEST, save=False)
    with pytest.warns(UserWarning, match=r"replaces the Trainer's scheduler \(StepLR\)"):
        trainer.train()
    assert cb.scheduler.total_steps == 8
    assert optimizer.param_groups[0]["momentum"] == 0.9


def test_model_loss_is_a_step_fn_for_the_plain_finder():
    model = tiny_bert()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(Tokens(), batch_size=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = LRFinder(model, optimizer, step_fn=ct.model_loss, progress=False).range_test(
        loader, start_lr=1e-5, end_lr=1.0, num_iter=20)
    assert len(result) > 5
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(TypeError, match="batch must be a dict"):
        ct.model_loss(model, (torch.zeros(1), torch.zeros(1)))


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="trainer must be a transformers.Trainer"):
        ct.attach(object())
    trainer = Trainer(model=tiny_bert(), args=arguments(tmp_path), train_dataset=Tokens())
    with pytest.raises(ValueError, match="policy"):
        ct.attach(trainer, policy="linear")
    with pytest.raises(ValueError, match="method"):
        ct.attach(trainer, method="best")
    with pytest.raises(TypeError, match="save"):
        ct.attach(trainer, save=1)


def test_the_range_test_clips_gradients_as_the_trainer_does(tmp_path):
    """``max_grad_norm`` (1.0 by default in TrainingArguments) clips the range test's steps too."""

    def losses(max_grad_norm: float) -> list[float]:
        trainer = Trainer(model=tiny_bert(), args=arguments(tmp_path, max_grad_norm=max_grad_norm, max_steps=1),
                          train_dataset=Tokens())
        cb = ct.attach(trainer, step_size_up=1, range_test={**SMALL_TEST, "num_iter": 30}, save=False)
        trainer.train()
        return cb.result.losses.tolist()

    unclipped = losses(0.0)
    assert losses(1e-3) != unclipped  # a tight threshold changes the steps
    assert losses(1e9) == unclipped  # one never reached leaves them exactly as they were


def test_an_eval_dataset_gives_the_papers_reading_on_its_first_batches(tmp_path):
    """With an eval_dataset the test measures eval loss and accuracy on its first val_batches batches."""
    trainer = Trainer(model=tiny_bert(), args=arguments(tmp_path, per_device_eval_batch_size=16, max_steps=2),
                      train_dataset=Tokens(), eval_dataset=Tokens(64))
    cb = ct.attach(trainer, step_size_up=1, range_test={**SMALL_TEST, "val_every": 5}, val_batches=1, save=False)
    trainer.train()
    assert sorted(cb.result.metrics) == ["val_accuracy", "val_loss"]
    accuracy = cb.result.metrics["val_accuracy"]
    assert len(accuracy) == len(cb.result) // 5
    assert all(float(a * 16).is_integer() for a in accuracy)  # one batch of 16
    assert cb.bounds.method == "metric"

    # the first measurement by hand: the model after 5 of the sweep's steps, on the first 16 eval examples
    model = tiny_bert()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.0)
    loader = trainer.get_train_dataloader()
    lrs = cb.result.lrs.tolist()
    batches = iter(loader)
    for lr in lrs[:5]:
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = model(**next(batches)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()
    first = next(iter(trainer.get_eval_dataloader()))
    with torch.no_grad():
        out = model(**first)
    assert cb.result.metrics["val_loss"][0] == pytest.approx(float(out.loss), rel=1e-4)
    assert accuracy[0] == pytest.approx(float((out.logits.argmax(1) == first["labels"]).float().mean()))


def test_a_regression_eval_set_gives_val_loss_and_val_batches_0_reads_the_training_loss(tmp_path):
    class Scores(Tokens):
        def __getitem__(self, i):
            item = super().__getitem__(i)
            return item | {"labels": item["labels"].float()}

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=1)
    trainer = Trainer(model=BertForSequenceClassification(config), args=arguments(tmp_path, max_steps=1),
                      train_dataset=Scores(), eval_dataset=Scores(32))
    cb = ct.attach(trainer, step_size_up=1, range_test=SMALL_TEST, save=False)
    trainer.train()
    assert sorted(cb.result.metrics) == ["val_loss"]  # (batch, 1) outputs: no accuracy

    trainer = Trainer(model=tiny_bert(), args=arguments(tmp_path, max_steps=1), train_dataset=Tokens(),
                      eval_dataset=Tokens(32))
    cb = ct.attach(trainer, step_size_up=1, range_test=SMALL_TEST, val_batches=0, save=False)
    trainer.train()
    assert cb.result.metrics == {} and cb.bounds.method == "valley"


@pytest.mark.parametrize("value, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_val_batches(tmp_path, value, error):
    trainer = Trainer(model=tiny_bert(), args=arguments(tmp_path), train_dataset=Tokens())
    with pytest.raises(error, match="val_batches"):
        ct.attach(trainer, val_batches=value)


DDP_SCRIPT = """
import json, os, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from transformers import Trainer
from test_transformers import Record, Tokens, arguments, tiny_bert
import cyclr.transformers as ct

out = sys.argv[1]
record = Record()
trainer = Trainer(model=tiny_bert(), args=arguments(out, num_train_epochs=1, per_device_eval_batch_size=8),
                  train_dataset=Tokens(), eval_dataset=Tokens(64), callbacks=[record])
cb = ct.attach(trainer, epochs_per_step=0.5, val_batches=2,
               range_test={{"start_lr": 1e-5, "end_lr": 1.0, "num_iter": 40, "val_every": 4}})
trainer.train()
report = {{"world": trainer.args.world_size, "batches": len(trainer.get_train_dataloader()),
          "eval_batches": len(trainer.get_eval_dataloader()), "losses": cb.result.losses.tolist(),
          "metrics": {{k: v.tolist() for k, v in cb.result.metrics.items()}},
          "bounds": [cb.bounds.base_lr, cb.bounds.max_lr], "step_size_up": cb.scheduler.step_size_up,
          "lrs": record.lrs}}
with open(os.path.join(out, f"rank{{trainer.args.process_index}}.json"), "w") as f:
    json.dump(report, f)
torch.distributed.destroy_process_group()
sys.stdout.flush(), sys.stderr.flush()
os._exit(0)  # skip interpreter teardown, where torch's gloo threads can abort a rank ('terminate called ...')
"""


def test_two_processes_agree_on_the_curve_and_the_bounds(tmp_path):
    """Under torchrun each process tests on its shard (train and eval); losses and metrics are averaged."""
    script = tmp_path / "hf_two.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    run_python([str(script), str(tmp_path)], tmp_path, processes=2)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    # 128 examples in batches of 16 and 64 in batches of 8, halved between the processes
    assert ranks[0]["batches"] == ranks[1]["batches"] == 4
    assert ranks[0]["eval_batches"] == ranks[1]["eval_batches"] == 4
    for key in ("losses", "metrics", "bounds", "lrs"):
        assert ranks[0][key] == ranks[1][key], key
    accuracy = ranks[0]["metrics"]["val_accuracy"]
    assert len(accuracy) == 10  # every 4 of the 40 steps
    assert all(float(a * 32).is_integer() for a in accuracy)  # 2 x 8 examples per process, averaged over 2
    assert ranks[0]["step_size_up"] == 2  # half an epoch of this process's 4 batches
    base, peak = ranks[0]["bounds"]
    assert ranks[0]["lrs"][0] == pytest.approx(base) and max(ranks[0]["lrs"]) == pytest.approx(peak)
    assert (tmp_path / "cyclr_range_test.json").exists()


def test_a_compute_loss_that_returns_the_loss_alone_still_gives_val_loss(tmp_path):
    class OwnLoss(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return model(**inputs).loss  # ignores return_outputs, as some subclasses do

    trainer = OwnLoss(model=tiny_bert(), args=arguments(tmp_path, max_steps=1), train_dataset=Tokens(),
                      eval_dataset=Tokens(32))
    cb = ct.attach(trainer, step_size_up=1, range_test=SMALL_TEST, save=False)
    trainer.train()
    assert sorted(cb.result.metrics) == ["val_loss"]
    assert cb.bounds.method == "metric"
