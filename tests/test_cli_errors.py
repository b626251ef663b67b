"""Every bad invocation of ``cyclr``: one line on stderr, no traceback, the documented exit status.

Bad arguments exit 2 before any work: the range test and the training are
replaced here by functions that fail the test if they are reached.
"""

from __future__ import annotations

import errno
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclr import RangeSweep
from cyclr.cli import main
from cyclr.rangetest import RangeTestRecorder
from cyclr.suggest import NoSuggestionError

FACTORIES = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_model():
    return nn.Linear(4, 3)


def make_loaders():
    return DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,))), batch_size=8)


def broken_model():
    raise ValueError("hidden size must be even,\\n got 3")


def broken_data():
    raise RuntimeError("no such dataset")
"""

PLOT = ["plot", "--base-lr", "0.001", "--max-lr", "0.006"]
FIND = ["find", "--no-progress"]
REPRODUCE = ["reproduce", "--no-progress"]

# (argv, the message expected in the one line); {tmp} is a fresh folder, {file} an existing file,
# {full} a non-empty folder, {m} the factories' module. All exit 2 before any work.
BAD_ARGUMENTS = [
    (PLOT + ["--momentum", "0.9", "0.8"], "--momentum BASE MAX must satisfy 0 <= BASE <= MAX <= 1"),
    (PLOT + ["--momentum", "5", "6"], "--momentum BASE MAX must satisfy"),
    (PLOT + ["--momentum", "nan", "0.9"], "--momentum BASE MAX must satisfy"),
    (PLOT + ["-o", "{tmp}/out.txt"], "-o/--output must end in one of "),
    (PLOT + ["-o", "{tmp}/noext"], "'noext' has no extension"),
    (PLOT + ["-o", "{full}"], "-o/--output must end in one of"),
    (PLOT + ["-o", "{tmp}/shots.png"], "-o/--output must be a file, got a folder"),
    (PLOT + ["--step-size", "1.5"], "argument --step-size: must be a whole number"),
    (PLOT + ["--step-size", "1e300"], "--iterations must be <= 1e+15"),
    (PLOT + ["--iterations", "1e16"], "--iterations must be <= 1e+15"),
    (PLOT + ["--iterations", "0"], "--iterations must be >= 1"),
    (["plot", "--base-lr", "nan", "--max-lr", "0.006"], "base-lr must be finite"),
    (["plot", "--base-lr", "0.01", "--max-lr", "inf"], "max-lr must be finite"),
    (PLOT + ["--mode", "cosine"], "invalid choice: 'cosine'"),
    (FIND + ["--end-lr", "1e308", "--out", "{tmp}/o"], "--end-lr must be <= 1.8e+301"),
    (FIND + ["--end-lr", "inf", "--out", "{tmp}/o"], "argument --end-lr: must be finite"),
    (FIND + ["--start-lr", "nan", "--out", "{tmp}/o"], "argument --start-lr: must be finite"),
    (FIND + ["--start-lr", "1", "--end-lr", "0.5", "--out", "{tmp}/o"], "--end-lr must be > start_lr"),
    (FIND + ["--end-lr", "1e-8", "--out", "{tmp}/o"], "--end-lr must be > 1e-07"),
    (FIND + ["--num-iter", "100000000", "--out", "{tmp}/o"], "--num-iter must be at most 1,000,000"),
    (FIND + ["--epochs", "100000000", "--out", "{tmp}/o"], "--epochs must give at most 1,000,000"),
    (FIND + ["--epochs-per-step", "1e307", "--out", "{tmp}/o"], "--epochs-per-step must give a finite step size"),
    (FIND + ["--task", "digits", "--momentum", "5"], "--momentum applies to --model only"),
    (FIND + ["--weight-decay", "0.1"], "--weight-decay applies to --model only"),
    (FIND + ["--model", "{m}:make_model", "--data", "{m}:make_loaders", "--momentum", "5"],
     "--momentum must be in [0, 1], got 5"),
    (FIND + ["--model", "{m}:make_model", "--data", "{m}:make_loaders", "--weight-decay", "-1"],
     "--weight-decay must be >= 0"),
    (FIND + ["--model", "{m}:nope", "--data", "{m}:make_loaders"], "module '{m}' has no attribute 'nope'"),
    (FIND + ["--out", "{file}"], "--out must be a folder, got a file"),
    (FIND + ["--out", "{file}/sub"], "--out cannot be created"),
    (FIND + ["--out", "{full}"], "--out is not empty"),
    (FIND + ["--task", "cifar"], "task must be one of 'digits', 'mnist'"),
    (REPRODUCE + ["--epochs", "100000000"], "--epochs must give at most 1,000,000 iterations"),
    (REPRODUCE + ["--epochs-per-step", "1e300"], "--epochs-per-step must give a step size of at most"),
    (REPRODUCE + ["--epochs-per-step", "inf"], "argument --epochs-per-step: must be finite"),
    (REPRODUCE + ["--range-test-epochs", "100000000"], "--range-test-epochs must give at most 1,000,000"),
    (REPRODUCE + ["--epochs", "3", "--epochs-per-step", "2"], "--epochs must cover at least one cycle"),
    (REPRODUCE + ["--out", "{file}"], "--out must be a folder, got a file"),
    (REPRODUCE + ["--out", "{full}"], "--out is not empty"),
    (REPRODUCE + ["--seeds", "0"], "argument --seeds: must be >= 1"),
]


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    (tmp_path / "errfactories.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # default output folders land here
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "shots.png").mkdir()
    (tmp_path / "full" / "results.json").write_text("{}")
    yield {"tmp": str(tmp_path), "file": str(tmp_path / "a-file"), "full": str(tmp_path / "full"),
           "m": "errfactories"}
    sys.modules.pop("errfactories", None)


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: Any, **__: Any) -> None:
        pytest.fail("the work started for a bad argument")

    monkeypatch.setattr("cyclr.reproduce.find.run_range_test", forbidden)
    monkeypatch.setattr("cyclr.reproduce.run_reproduction", forbidden)
    monkeypatch.setattr("cyclr.plot.plot_schedules", forbidden)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str) -> None:
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and "----" not in err


@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS)
def test_a_bad_argument_is_one_line_exit_2_before_any_work(
    argv: list[str], message: str, places: dict[str, str], no_work: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run([a.format(**places) for a in argv], capsys)
    assert code == 2, err
    assert_one_line(err)
    assert err.startswith(f"cyclr {argv[0]}: error: ")
    assert message.format(**places) in err
    if "must end in one of" in message:  # the supported formats are listed
        assert ".png, " in err and ".svg" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no folder left behind
    assert (tmp_path / "full" / "results.json").read_text() == "{}"


def test_an_unwritable_out_is_refused_before_the_range_test(
    places: dict[str, str], no_work: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(*_: Any, **__: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("cyclr._io.open", denied, raising=False)
    for argv in (FIND + ["--out", "ro"], REPRODUCE + ["--out", "ro"], FIND, REPRODUCE):
        code, _, err = run(argv, capsys)
        assert code == 2, err
        assert_one_line(err)
        assert "--out is not writable" in err and "Permission denied" in err
    assert not Path("ro").exists() and not list(Path().glob("cyclr-*"))


# --- failures of the work itself: one line, exit 1 ---------------------------------------------


def curve() -> Any:
    rec = RangeTestRecorder(RangeSweep(1e-4, 1.0, 60, "exp"))
    for i in range(60):
        rec.record_loss(2.0 - 1.5 * np.sin(np.pi * i / 60))
    return rec.result()


def failing_with(exc: BaseException) -> Any:
    def run_range_test(*_: Any, **__: Any) -> None:
        raise exc

    return run_range_test


def mid_run_error() -> ValueError:
    err = ValueError("a batch had 3 columns,\nexpected 4")
    err.range_test_result = curve()  # type: ignore[attr-defined]
    return err


@pytest.mark.parametrize(
    ("argv", "patch", "message"),
    [
        (FIND + ["--model", "{m}:broken_model", "--data", "{m}:make_loaders"], None,
         "cyclr find: error in factory {m}:broken_model: hidden size must be even, got 3 (ValueError)"),
        (FIND + ["--model", "{m}:make_model", "--data", "{m}:broken_data"], None,
         "cyclr find: error in factory {m}:broken_data: no such dataset (RuntimeError)"),
        (FIND + ["--num-iter", "10"], NoSuggestionError("the coarse sweep diverged at once"),
         "cyclr find: the coarse sweep diverged at once"),
        (FIND + ["--num-iter", "10"], "mid-run", "cyclr find: the range test failed: a batch had 3 columns, expected 4"),
        (FIND + ["--num-iter", "10"], "full-disk", "cyclr find: cannot write the results"),
        (FIND + ["--num-iter", "10"], RuntimeError("mat1 and mat2 shapes\ncannot be multiplied"),
         "cyclr find: RuntimeError during the run: mat1 and mat2 shapes cannot be multiplied"),
        (REPRODUCE + ["--epochs", "8", "--epochs-per-step", "1"], ValueError("loss is nan"),
         "cyclr reproduce: loss is nan"),
        (REPRODUCE + ["--epochs", "8", "--epochs-per-step", "1"], NoSuggestionError("flat curve"),
         "cyclr reproduce: the range test gave no bounds: flat curve"),
        (PLOT + ["-o", "x.png"], "full-disk", "cyclr plot: cannot write 'x.png': No space left on device"),
    ],
)
def test_a_failure_of_the_work_is_one_line_exit_1(
    argv: list[str], patch: Any, message: str, places: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_space(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if patch == "mid-run":
        monkeypatch.setattr("cyclr.reproduce.find.run_range_test", failing_with(mid_run_error()))
    elif patch == "full-disk":
        monkeypatch.setattr("cyclr.reproduce.find.run_range_test", lambda *a, **k: curve())
        monkeypatch.setattr("cyclr._io.save_figure", no_space)
    elif patch is not None:
        monkeypatch.setattr("cyclr.reproduce.find.run_range_test", failing_with(patch))
        monkeypatch.setattr("cyclr.reproduce.run_reproduction", failing_with(patch))
    code, _, err = run([a.format(**places) for a in argv], capsys)
    assert code == 1, err
    assert_one_line(err)
    assert message.format(**places) in err
    leftover = [p for p in Path().iterdir() if p.name.startswith("cyclr-")]
    if patch == "full-disk" and argv[0] == "find":  # the run's folder says it is incomplete
        assert [sorted(q.name for q in p.iterdir()) for p in leftover] == [["INCOMPLETE", "range_test.csv"]]
    else:
        assert leftover == []  # a folder the failed run created and left empty is removed


def test_the_default_out_folder_is_taken_when_the_run_starts(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[list[str]] = []

    def run_range_test(*_: Any, **__: Any) -> Any:
        seen.append(sorted(p.name for p in Path().iterdir() if p.name.startswith("cyclr-find")))
        return curve()

    monkeypatch.setattr("cyclr.reproduce.find.run_range_test", run_range_test)
    for _ in range(2):
        code, out, err = run(FIND + ["--num-iter", "10"], capsys)
        assert code == 0, err
    assert seen == [["cyclr-find-digits"], ["cyclr-find-digits", "cyclr-find-digits-2"]]
    assert "wrote cyclr-find-digits-2/range_test.json" in out
    for folder in ("cyclr-find-digits", "cyclr-find-digits-2"):
        assert sorted(p.name for p in Path(folder).iterdir()) == ["range_test.csv", "range_test.json", "range_test.png"]


def test_force_writes_into_a_non_empty_out(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("cyclr.reproduce.find.run_range_test", lambda *a, **k: curve())
    code, _, err = run(FIND + ["--num-iter", "10", "--out", "full", "--force"], capsys)
    assert code == 0, err
    assert {"results.json", "range_test.json", "range_test.csv", "range_test.png"} == {
        p.name for p in Path("full").iterdir()
    }


def test_plot_writes_where_it_says(places: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(PLOT + ["--step-size", "1e12", "-o", "big.svg"], capsys)
    assert code == 0, err
    assert out.strip() == "wrote big.svg" and Path("big.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_the_traceback_of_an_unexpected_error_is_shown_on_request(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("cyclr.reproduce.find.run_range_test", failing_with(RuntimeError("boom")))
    monkeypatch.setenv("CYCLR_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="boom"):
        run([a.format(**places) for a in FIND + ["--num-iter", "10"]], capsys)
