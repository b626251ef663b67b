"""benchmarks/sweep_length.py: how far the suggestion follows the sweep's end rather than the LR."""

import json

import pytest

import sklearn  # noqa: F401  (the extra this test needs)
import matplotlib  # noqa: F401  (the extra this test needs)

from helpers import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("sweep_length") as module:
        yield module


def test_sensitivity_slope(bench):
    assert bench.sensitivity([1.0, 0.5, 0.25], [0.3, 0.15, 0.075]) == pytest.approx(1.0)
    assert bench.sensitivity([1.0, 0.5, 0.25], [0.3, 0.3, 0.3]) == pytest.approx(0.0)
    assert bench.sensitivity([1.0, 0.25], [0.4, 0.2]) == pytest.approx(0.5)
    assert bench.sensitivity([1.0, 0.5], [0.3, None]) is None  # one reading is not a slope
    assert bench.sensitivity([1.0, 1.0], [0.3, 0.2]) is None


def test_end_to_end_on_one_tiny_task(bench, tmp_path):
    out = tmp_path / "len"
    results = bench.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--factors", "0.5",
                          "--out", str(out)])
    saved = json.loads((out / "results.json").read_text())
    assert saved["settings"]["factors"] == [0.5]
    (run,) = saved["runs"]
    assert [s["factor"] for s in run["sweeps"]] == [1.0, 0.5]
    auto, half = run["sweeps"]
    assert half["end_lr"] == pytest.approx(0.5 * run["end_lr"], rel=1e-6)
    assert auto["end_lr"] == pytest.approx(run["end_lr"], rel=1e-6)
    if auto["max_lr"] and half["max_lr"]:
        assert run["sensitivity"] == pytest.approx(bench.sensitivity([run["end_lr"], 0.5 * run["end_lr"]],
                                                                     [auto["max_lr"], half["max_lr"]]))
    assert "sensitivity" in (out / "report.txt").read_text()
    assert results["runs"][0]["task"] == "cancer_mlp"
    for bad in (["--factors", "2"], ["--factors", "x"], ["--seeds", "0"], ["--tasks", "nope"]):
        with pytest.raises(SystemExit):
            bench.main(["--smoke", "--out", str(tmp_path / "bad"), *bad])
    assert not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit):  # a non-empty folder is refused without --force
        bench.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--out", str(out)])
