"""Files are written atomically; output folders are taken at once and checked before the work."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from cyclr import RangeSweep, _io
from cyclr.reproduce.find import write_find_outputs
from cyclr.reproduce.report import write_outputs
from cyclr.plot import save_figure
from cyclr.rangetest import RangeTestRecorder, RangeTestResult


def small_result(n: int = 60) -> RangeTestResult:
    rec = RangeTestRecorder(RangeSweep(1e-4, 1.0, n, "exp"))
    for i in range(n):
        if rec.record_loss(2.0 - 1.5 * np.sin(np.pi * i / n)):
            break
    return rec.result()


def full_disk(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def leftovers(folder: Path, keep: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - keep


# --- single files ---------------------------------------------------------------------


def test_save_on_a_full_disk_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "range_test.json"
    small_result(30).save(path)
    before = path.read_bytes()

    def half_then_full(obj: Any, f: Any) -> None:
        f.write(json.dumps(obj)[:50])
        full_disk()

    monkeypatch.setattr("cyclr.rangetest.json.dump", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        small_result(60).save(path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, {"range_test.json"}) == set()


def test_to_csv_failing_at_the_sync_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "curve.csv"
    small_result(30).to_csv(path)
    before = path.read_bytes()
    monkeypatch.setattr(_io.os, "fsync", full_disk)
    with pytest.raises(OSError):
        small_result(60).to_csv(path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, {"curve.csv"}) == set()


def test_an_interrupt_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    _io.write_text(path, "old\n")
    with pytest.raises(KeyboardInterrupt), _io.atomic_write(path) as f:
        f.write("new, half")
        raise KeyboardInterrupt
    assert path.read_text() == "old\n"
    assert leftovers(tmp_path, {"notes.txt"}) == set()


def test_save_overwrites_by_default_and_refuses_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    small_result(30).save(path)
    small_result(60).save(path)  # an explicit path is replaced, as before
    assert len(RangeTestResult.load(path)) == len(small_result(60))
    with pytest.raises(FileExistsError):
        small_result(30).save(path, overwrite=False)
    with pytest.raises(FileExistsError):
        small_result(30).to_csv(path, overwrite=False)
    assert len(RangeTestResult.load(path)) == len(small_result(60))


def test_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    small_result(30).save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_figure_failing_mid_save_keeps_the_old_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lr.png"
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    save_figure(fig, path)
    before = path.read_bytes()

    def partial(self: Figure, f: Any, **kwargs: Any) -> None:
        f.write(b"\x89PNG truncated")
        full_disk()

    monkeypatch.setattr(Figure, "savefig", partial)
    with pytest.raises(OSError):
        save_figure(fig, path, overwrite=True)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, {"lr.png"}) == set()


def test_save_figure_keeps_a_user_file_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "mine.png"
    path.write_bytes(b"user's image")
    fig = Figure()
    with pytest.raises(FileExistsError):
        save_figure(fig, path)
    assert path.read_bytes() == b"user's image"
    save_figure(fig, path, overwrite=True)
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", ["lr.txt", "lr"])
def test_save_figure_needs_a_known_extension(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"must end in one of .*\.png"):
        save_figure(Figure(), tmp_path / name)
    assert not (tmp_path / name).exists()


@settings(max_examples=25, deadline=None)
@given(old=st.binary(max_size=200), new=st.binary(max_size=200), fail=st.booleans())
def test_a_write_is_all_or_nothing(tmp_path_factory: pytest.TempPathFactory, old: bytes, new: bytes,
                                   fail: bool) -> None:
    folder = tmp_path_factory.mktemp("w")
    path = folder / "f.bin"
    path.write_bytes(old)
    try:
        with _io.atomic_write(path, "wb") as f:
            f.write(new[: len(new) // 2])
            if fail:
                raise OSError(errno.ENOSPC, "No space left on device")
            f.write(new[len(new) // 2 :])
    except OSError:
        pass
    assert path.read_bytes() == (old if fail else new)
    assert [p.name for p in folder.iterdir()] == ["f.bin"]


# --- sets of files -------------------------------------------------------------------


def test_find_outputs_are_whole_and_unmarked(tmp_path: Path) -> None:
    paths = write_find_outputs(small_result(), None, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"range_test.json", "range_test.csv", "range_test.png"}
    assert RangeTestResult.load(paths["json"]) == small_result()


def test_find_outputs_failing_at_the_figure_are_marked_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_result(30).save(tmp_path / "range_test.json")  # an earlier run's curve
    monkeypatch.setattr("cyclr._io.save_figure", full_disk)
    with pytest.raises(OSError):
        write_find_outputs(small_result(), None, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert "INCOMPLETE" in names
    assert "range_test.json" not in names  # the manifest is written last: a stale one is not left looking valid
    assert all(not n.endswith(".tmp") for n in names)


def test_reproduce_outputs_failing_at_a_figure_leave_no_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "results.json").write_text('{"old": true}\n')
    (tmp_path / "report.md").write_text("old report\n")

    def no_space(*_: Any, **__: Any) -> Figure:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("cyclr.reproduce.figures.plot_reproduction", no_space)
    bounds = {"base_lr": 1e-3, "max_lr": 1e-2, "method": "valley", "explanation": "test", "warnings": []}
    with pytest.raises(OSError):
        write_outputs({"range_test": small_result(), "bounds": bounds}, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert "INCOMPLETE" in names and "results.json" not in names
    assert "accuracy.png" not in names and all(not n.endswith(".tmp") for n in names)
    assert RangeTestResult.load(tmp_path / "range_test.json") == small_result()  # whole, not truncated


# --- output folders ---------------------------------------------------------------------


def test_runs_started_together_get_different_folders(tmp_path: Path) -> None:
    first = _io.fresh_folder("cyclr-find-digits", tmp_path)
    second = _io.fresh_folder("cyclr-find-digits", tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == "cyclr-find-digits-2"


def test_fresh_folder_skips_a_name_taken_between_check_and_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkdir = os.mkdir
    calls: list[str] = []

    def racing_mkdir(path: Any, *args: Any) -> None:
        calls.append(str(path))
        if len(calls) == 1:
            real_mkdir(path)  # another run takes the name first
        real_mkdir(path, *args)

    monkeypatch.setattr(_io.os, "mkdir", racing_mkdir)
    assert _io.fresh_folder("run", tmp_path).name == "run-2"


def test_a_non_empty_folder_needs_force(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="out is not empty: .*--force"):
        _io.prepare_output_folder(tmp_path)
    assert _io.prepare_output_folder(tmp_path, force=True) == tmp_path
    assert (tmp_path / "results.json").read_text() == "{}"


def test_an_output_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="out must be a folder, got a file"):
        _io.prepare_output_folder(tmp_path / "f")
    with pytest.raises(ValueError, match="out cannot be created"):
        _io.prepare_output_folder(tmp_path / "f" / "sub")


def test_an_unwritable_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*_: Any, **__: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_io, "open", denied, raising=False)
    with pytest.raises(ValueError, match="out is not writable: .*Permission denied"):
        _io.prepare_output_folder(tmp_path / "new")
