"""``cyclr find`` and ``cyclr reproduce`` on the user's own code: modules in the current folder,
optimizers, losses, step functions, given bounds, lists of batches, regression targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import cyclr
from cyclr.cli import main
from cyclr.suggest import NoSuggestionError

SRC = str(Path(cyclr.__file__).resolve().parent.parent)

USER_CODE = """
import torch
from torch import nn


def make_model():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))


def make_classifier():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def _batches(n, seed, regression=True):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(16, 4, generator=g)
        y = x.sum(1, keepdim=True) if regression else (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
        out.append((x, y))
    return out


def regression():
    return _batches(8, 0), _batches(2, 1), _batches(2, 2)


def classification():
    return _batches(8, 0, regression=False), _batches(2, 1, regression=False)


def train_batches_only():
    return _batches(8, 0)


def dict_batches():
    as_dicts = lambda batches: [{"features": x, "target": y} for x, y in batches]
    return as_dicts(_batches(8, 0)), as_dicts(_batches(2, 1))


def dict_step(model, batch):
    return nn.functional.mse_loss(model(batch["features"]), batch["target"])


def make_l1():
    return nn.L1Loss()
"""


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a busy machine the tiny models run several times faster."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A current folder holding ``usercode.py``, which is not on sys.path otherwise."""
    (tmp_path / "usercode.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("usercode", None)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def find(*extra: str, data: str = "regression", model: str = "make_model") -> list[str]:
    return ["find", "--model", f"usercode:{model}", "--data", f"usercode:{data}", "--no-progress", *extra]


# --- importing from the current folder ----------------------------------------------------


def test_find_imports_factories_from_the_current_folder_in_a_subprocess(workdir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "KERAS_BACKEND": "torch"}
    argv = find("--loss", "mse", "--bounds", "0.01", "0.1")
    # as the installed `cyclr` script runs: without the current folder on sys.path (`python -m` would add it)
    script = "import sys; sys.path.pop(0); from cyclr.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "use: cyclr.torch.CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=32)" in done.stdout


def test_the_current_folder_leaves_sys_path_afterwards(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = list(sys.path)
    code, _, err = run_cli(find("--loss", "mse", "--bounds", "0.01", "0.1"), capsys)
    assert code == 0, err
    assert sys.path == before


# --- find ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "kind"), [("sgd", "SGD"), ("adam", "Adam"), ("adamw", "AdamW"), ("rmsprop", "RMSprop")]
)
def test_each_optimizer_reaches_the_finder(
    optimizer: str, kind: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclr.reproduce import find as find_module

    seen = {}

    def record(subject: find_module.Subject, *args: object, **kwargs: object) -> None:
        seen["optimizer"] = subject.optimizer
        raise NoSuggestionError("stopped here")

    monkeypatch.setattr(find_module, "run_range_test", record)
    code, _, err = run_cli(find("--loss", "mse", "--optimizer", optimizer, "--momentum", "0.5",
                                "--out", str(workdir / "o")), capsys)
    assert code == 1 and "stopped here" in err
    assert type(seen["optimizer"]).__name__ == kind
    defaults = seen["optimizer"].defaults
    assert defaults.get("betas", (defaults.get("momentum"),))[0] == 0.5


def test_mse_on_regression_targets_reads_val_loss_only(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(find("--loss", "mse", "--num-iter", "60", "--out", str(workdir / "o")), capsys)
    saved = json.loads((workdir / "o" / "range_test.json").read_text())
    assert set(saved["metrics"]) == {"val_loss"}  # no accuracy for float targets
    assert min(saved["losses"]) > 0
    if code == 0:
        assert "base_lr = " in out and "flat" not in out
    else:  # a clean one-line refusal, never a flat-metric misreading
        assert code == 1 and err.count("\n") == 1 and "flat" not in err


def test_a_loss_factory(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(find("--loss", "usercode:make_l1", "--num-iter", "40", "--out", str(workdir / "o")), capsys)
    assert code in (0, 1), err
    assert "range test on make_model: 40 steps" in out
    assert set(json.loads((workdir / "o" / "range_test.json").read_text())["metrics"]) == {"val_loss"}


def test_a_step_fn_with_dict_batches(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = find("--step-fn", "usercode:dict_step", "--num-iter", "40", "--out", str(workdir / "o"), data="dict_batches")
    code, out, err = run_cli(argv, capsys)
    assert code in (0, 1), err
    assert "range test on make_model: 40 steps" in out
    assert set(json.loads((workdir / "o" / "range_test.json").read_text())["metrics"]) == {"val_loss"}


def test_gradient_clipping_reaches_the_range_test(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    def losses(*clip: str) -> list[float]:
        torch.manual_seed(0)  # the factory's initial weights
        out_dir = workdir / f"o{len(list(workdir.iterdir()))}"
        argv = find("--loss", "mse", "--start-lr", "1e-3", "--end-lr", "0.5", "--num-iter", "24", *clip,
                    "--out", str(out_dir))
        code, _, err = run_cli(argv, capsys)
        assert code in (0, 1), err
        return json.loads((out_dir / "range_test.json").read_text())["losses"]

    plain = losses()
    assert losses("--max-grad-norm", "1e9") == plain  # a bound never reached changes nothing
    assert losses("--max-grad-value", "1e9") == plain
    assert losses("--max-grad-norm", "1e-3") != plain
    assert losses("--max-grad-value", "1e-3") != plain


@pytest.mark.parametrize("clip", [["--max-grad-norm", "0"], ["--max-grad-value", "-1"], ["--max-grad-norm", "nan"],
                                  ["--max-grad-norm", "1", "--max-grad-value", "1"]])
def test_bad_gradient_clipping_exits_2_before_any_work(
    clip: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(find("--loss", "mse", *clip, "--out", str(workdir / "o")), capsys)
    assert code == 2 and "Traceback" not in err and "--max-grad" in err
    assert not (workdir / "o").exists()


def test_bounds_skip_the_range_test(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclr.reproduce import find as find_module

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the range test ran")

    monkeypatch.setattr(find_module, "run_range_test", never)
    code, out, err = run_cli(find("--loss", "mse", "--bounds", "0.002", "0.02", "--out", str(workdir / "o")), capsys)
    assert code == 0, err
    assert "step_size_up = 32 iterations (4 epochs of 8" in out
    assert "base_lr=0.002, max_lr=0.02, step_size_up=32" in out
    assert not (workdir / "o").exists()


def test_a_list_of_train_batches(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = find("--loss", "mse", "--start-lr", "1e-4", "--end-lr", "1", "--num-iter", "40",
                "--out", str(workdir / "o"), data="train_batches_only")
    code, out, err = run_cli(argv, capsys)
    assert code in (0, 1), err
    assert "range test on make_model: " in out and "step_size_up = 32 iterations (4 epochs of 8" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--optimizer", "foo"], "argument --optimizer: invalid choice: 'foo'"),
        (["--bounds", "0.1", "0.01"], "--bounds BASE MAX must satisfy 0 < BASE < MAX, got BASE=0.1, MAX=0.01"),
        (["--bounds", "nan", "1"], "argument --bounds: must be finite, got nan"),
        (["--bounds", "0", "1"], "--bounds BASE MAX must satisfy 0 < BASE < MAX"),
        (["--loss", "nope"], "argument --loss: must be one of cross_entropy"),
        (["--loss", "usercode:missing"], "--loss: module 'usercode' has no attribute 'missing'"),
        (["--step-fn", "dict_step"], "--step-fn must look like 'package.module:function', got 'dict_step'"),
        (["--step-fn", "usercode:dict_step", "--loss", "mse"], "give either --loss or --step-fn, not both"),
        (["--optimizer", "adam", "--momentum", "1"], "--momentum must be in [0, 1) for adam (it is beta1), got 1"),
    ],
)
def test_bad_user_options_are_one_line_exit_2(
    extra: list[str], message: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(find(*extra, "--out", str(workdir / "o")), capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (workdir / "o").exists()


@pytest.mark.parametrize("command", ["find", "reproduce"])
def test_user_options_need_a_model(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli([command, "--task", "digits", "--optimizer", "adam"], capsys)
    assert code == 2 and "--optimizer applies to --model only" in err


# --- reproduce -----------------------------------------------------------------------------


def test_reproduce_on_user_factories_classification(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["reproduce", "--model", "usercode:make_classifier", "--data", "usercode:classification",
            "--epochs", "2", "--range-test-epochs", "3", "--seeds", "1", "--out", str(workdir / "r"), "--no-progress"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    results = json.loads((workdir / "r" / "results.json").read_text())
    assert results["metric"] == {"name": "accuracy", "higher_is_better": True}
    assert results["task"] == "make_classifier" and results["seeds"] == [0]
    assert results["command"].startswith("cyclr reproduce --model usercode:make_classifier --data usercode:classification")
    assert "(no test split: validation reported)" in results["task_description"]
    assert "| policy | iterations | final test accuracy %" in out
    assert (workdir / "r" / "report.md").is_file() and (workdir / "r" / "range_test.json").is_file()


def test_reproduce_regression_with_bounds_and_adam(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclr.reproduce import runner

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the range test ran")

    monkeypatch.setattr(runner, "range_test_on_task", never)
    argv = ["reproduce", "--model", "usercode:make_model", "--data", "usercode:regression", "--loss", "mse",
            "--optimizer", "adam", "--bounds", "0.001", "0.01", "--epochs", "2", "--seeds", "1",
            "--out", str(workdir / "r"), "--no-progress"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    results = json.loads((workdir / "r" / "results.json").read_text())
    assert results["metric"] == {"name": "loss", "higher_is_better": False}
    assert results["bounds"]["base_lr"] == 0.001 and results["bounds"]["method"] == "given"
    assert results["settings"]["optimizer"].startswith("Adam(betas=(0.9, 0.999)")
    assert results["settings"]["split_sizes"] == {"train": 128, "val": 32, "test": 32}
    fixed = results["policies"]["fixed"]
    grid = {row["lr"]: row["val_accuracy_mean"] for row in results["fixed_lr_grid"]}
    assert results["fixed_lr"] == min(grid, key=grid.get)  # the lowest validation loss
    assert fixed["accuracy_mean"] > 0
    assert "final test loss" in out and "--bounds 0.001 0.01" in results["command"]
    report = (workdir / "r" / "report.md").read_text()
    assert "Bounds given on the command line" in report and "range_test" not in report
    assert not (workdir / "r" / "range_test.json").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "--epochs is required with --model/--data"),
        (["--epochs", "2", "--task", "digits"], "give either --task or --model/--data, not both"),
    ],
)
def test_reproduce_rejects_bad_user_runs(
    extra: list[str], message: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["reproduce", "--model", "usercode:make_model", "--data", "usercode:regression", *extra]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and message in err


def test_reproduce_needs_validation_batches(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["reproduce", "--model", "usercode:make_model", "--data", "usercode:train_batches_only", "--epochs", "2"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "must return (train_loader, val_loader)" in err
