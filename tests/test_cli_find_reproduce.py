"""``cyclr find`` and ``cyclr reproduce`` on tiny budgets: arguments, files, JSON schema, exit codes."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyclr.cli import main

FACTORIES = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) + 1.5 * nn.functional.one_hot(y, 4).float()
    return TensorDataset(x, y)


def make_loaders():
    train = DataLoader(_data(256, 0), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    return train, DataLoader(_data(128, 1), batch_size=64)


def make_train_loader():
    return make_loaders()[0]


NOT_CALLABLE = 3


def make_nothing_useful():
    return "not a model"
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "userfactories.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "userfactories"
    sys.modules.pop("userfactories", None)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --- find -------------------------------------------------------------------------


def test_find_on_a_bundled_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "find"
    code, out, err = run_cli(
        ["find", "--task", "digits", "--epochs", "2", "--out", str(out_dir), "--no-progress"], capsys
    )
    assert code == 0, err
    assert "base_lr = " in out and "max_lr  = " in out
    assert "step_size_up = 252 iterations (4 epochs of 63" in out
    assert "cyclr.torch.CyclicLR(optimizer, base_lr=" in out
    for name in ("range_test.json", "range_test.csv", "range_test.png"):
        assert (out_dir / name).stat().st_size > 0
    saved = json.loads((out_dir / "range_test.json").read_text())
    assert saved["format"] == "cyclr.range_test" and "val_accuracy" in saved["metrics"]
    header = (out_dir / "range_test.csv").read_text().splitlines()[0]
    assert header.startswith("step,lr,loss,smoothed_loss")


def test_find_on_user_factories(user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "mine"
    argv = [
        "find",
        "--model",
        f"{user_module}:make_model",
        "--data",
        f"{user_module}:make_loaders",
        "--num-iter",
        "120",
        "--out",
        str(out_dir),
        "--no-progress",
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "range test on make_model: 120 steps" in out
    assert "step_size_up = 64 iterations (4 epochs of 16" in out
    assert (out_dir / "range_test.png").is_file()


def test_find_with_only_a_train_loader_reads_the_loss(
    user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "find",
        "--model",
        f"{user_module}:make_model",
        "--data",
        f"{user_module}:make_train_loader",
        "--start-lr",
        "1e-4",
        "--end-lr",
        "10",
        "--num-iter",
        "100",
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "reading: valley" in out or "reading: steepest" in out or "reading: min_div10" in out
    assert json.loads((tmp_path / "out" / "range_test.json").read_text())["metrics"] == {}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no_such_module_xyz:make_model", "--model: cannot import module 'no_such_module_xyz'"),
        ("{m}:missing", "--model: module '{m}' has no attribute 'missing'"),
        ("{m}.make_model", "--model must look like 'package.module:function', got '{m}.make_model'"),
        ("{m}:NOT_CALLABLE", "--model: '{m}:NOT_CALLABLE' is a int, not a callable"),
        ("{m}:make_nothing_useful", "--model: {m}:make_nothing_useful() must return a torch.nn.Module, got str"),
    ],
)
def test_find_rejects_a_bad_factory_path(
    model: str, message: str, user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "find",
        "--model",
        model.format(m=user_module),
        "--data",
        f"{user_module}:make_loaders",
        "--out",
        str(tmp_path / "x"),
        "--no-progress",
    ]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert f"cyclr find: error: {message.format(m=user_module)}" in err
    assert not (tmp_path / "x").exists()


def test_find_rejects_an_unknown_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["find", "--task", "cifar", "--out", str(tmp_path / "x")], capsys)
    assert code == 2
    assert "cyclr find: error: task must be one of 'digits', 'mnist'" in err and "got task='cifar'" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "a:b"], "--model and --data must be given together"),
        (["--task", "digits", "--model", "a:b", "--data", "a:c"], "give either --task or --model/--data, not both"),
        (["--start-lr", "-1"], "start_lr must be >= 0"),
    ],
)
def test_find_rejects_inconsistent_options(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["find", *extra, "--out", str(tmp_path / "x"), "--no-progress"], capsys)
    assert code == 2
    assert message in err


def test_find_rejects_non_positive_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["find", "--epochs", "0"], capsys)
    assert code == 2 and "must be >= 1, got 0" in err


# --- reproduce --------------------------------------------------------------------------


def test_reproduce_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "repro"
    argv = [
        "reproduce",
        "--task",
        "digits",
        "--seeds",
        "2",
        "--epochs",
        "4",
        "--epochs-per-step",
        "1",
        "--range-test-epochs",
        "3",
        "--out",
        str(out_dir),
        "--no-progress",
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    for name in ("report.md", "results.json", "accuracy.png", "range_test.png", "range_test.json", "range_test.csv"):
        assert (out_dir / name).stat().st_size > 0, name
    results = json.loads((out_dir / "results.json").read_text())
    assert {"task", "seeds", "bounds", "target_accuracy", "policies", "speedup"} <= set(results)
    assert results["task"] == "digits" and results["seeds"] == [0, 1]
    assert set(results["bounds"]) >= {"base_lr", "max_lr"}
    for entry in results["policies"].values():
        assert {"iterations", "accuracy_mean", "accuracy_std", "iterations_to_target", "curve"} <= set(entry)
    assert set(results["policies"]) == {
        "fixed",
        "fixed_steps",
        "triangular",
        "triangular2",
        "exp_range",
        "decay",
        "exp",
    }
    # the terminal summary: the table and where the files went
    assert "| policy | iterations | final test accuracy" in out and "| triangular2 |" in out
    assert str(out_dir / "report.md") in out
    report = (out_dir / "report.md").read_text()
    assert "## The paper's Table 1 (quoted, not measured here)" in report


def test_reproduce_default_folder_is_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclr.cli import _fresh_folder

    monkeypatch.chdir(tmp_path)
    assert _fresh_folder("cyclr-reproduce-digits") == Path("cyclr-reproduce-digits")
    assert Path("cyclr-reproduce-digits").is_dir()  # taken at once, not when the results are written
    Path("cyclr-reproduce-digits-2").mkdir()
    assert _fresh_folder("cyclr-reproduce-digits") == Path("cyclr-reproduce-digits-3")


def test_reproduce_rejects_an_unknown_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["reproduce", "--task", "cifar", "--out", str(tmp_path / "x")], capsys)
    assert code == 2
    assert "cyclr reproduce: error: task must be one of 'digits', 'mnist'" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0"], "argument --seeds: must be >= 1, got 0"),
        (["--epochs", "3", "--epochs-per-step", "2"], "--epochs must cover at least one cycle"),
        (["--epochs", "5", "--epochs-per-step", "2.5"], "--epochs must cover at least one cycle"),
        (["--epochs-per-step", "-1"], "argument --epochs-per-step: must be > 0, got -1"),
    ],
)
def test_reproduce_rejects_bad_numbers(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["reproduce", *extra], capsys)
    assert code == 2
    assert message in err


def test_reproduce_help_says_mnist_is_slower(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["reproduce", "--help"], capsys)
    assert code == 0
    assert "mnist" in out and "longer" in out


def test_flags_leave_a_unit_alone(capsys: pytest.CaptureFixture[str]) -> None:
    from cyclr.cli import main

    with pytest.raises(SystemExit):
        main(["reproduce", "--task", "digits", "--epochs", "3", "--epochs-per-step", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert "2 * --epochs-per-step = 4 epochs, " in err and "--epochs =" not in err, err
