"""benchmarks/clr_ceiling.py: the best CLR bounds of a grid, scored as the suggestion suite scores readings."""

import json

import pytest

import sklearn  # noqa: F401  (the extra this test needs)
import matplotlib  # noqa: F401  (the extra this test needs)

from helpers import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("clr_ceiling") as module:
        yield module


def test_the_grid_of_bounds(bench):
    grid = bench.pairs(0.01)
    assert len(grid) == 27
    assert {p["max_lr"] for p in grid} == {0.001, 0.00178, 0.00316, 0.00562, 0.01, 0.0178, 0.0316, 0.0562, 0.1}
    assert all(p["base_lr"] < p["max_lr"] for p in grid)
    assert {round(p["max_lr"] / p["base_lr"]) for p in grid} == {2, 4, 10}


def test_scores_and_their_order(bench):
    best = {"final": 90.0, "curve": [80.0, 88.0, 90.0, 90.0], "iterations_per_eval": 10}
    fast = bench.score("accuracy", best, {"final": 90.5, "curve": [90.0, 90.5, 90.5, 90.5], "iterations_per_eval": 10})
    assert fast == {"final": 90.5, "gap": 0.5, "collapse": False, "speedup": 3.0}
    low = bench.score("accuracy", best, {"final": 88.5, "curve": [85.0, 88.0, 88.5, 88.5], "iterations_per_eval": 10})
    assert low["collapse"] and low["speedup"] is None
    mse = bench.score("mse", {"final": 1.0, "curve": [2.0, 1.0], "iterations_per_eval": 5},
                      {"final": 1.06, "curve": [1.0, 1.06], "iterations_per_eval": 5})
    assert mse["collapse"] and mse["speedup"] == 2.0 and mse["gap"] == pytest.approx(-6.0)
    # fewer collapses first, then the median speedup, then the mean gap
    assert bench.rank_key([fast, fast]) > bench.rank_key([fast, low])
    slower = dict(fast, speedup=1.0, gap=2.0)
    assert bench.rank_key([fast]) > bench.rank_key([slower])
    assert bench.rank_key([dict(fast, gap=1.0)]) > bench.rank_key([fast])


def test_end_to_end_on_one_tiny_task(bench, tmp_path):
    out = tmp_path / "ceiling"
    results = bench.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--out", str(out)])
    saved = json.loads((out / "results.json").read_text())
    task = saved["tasks"]["cancer_mlp"]
    assert len(task["pairs"]) == 27
    ceiling = task["ceiling"]
    assert ceiling in task["pairs"]
    assert all(bench.rank_key(ceiling["scores"]) >= bench.rank_key(row["scores"]) for row in task["pairs"])
    safe = [row["scores"][0]["speedup"] or 0.0 for row in task["pairs"] if not row["scores"][0]["collapse"]]
    assert task["per_run"] == [max(safe) if safe else None]
    assert saved["summary"]["runs"] == 1
    assert "CLR ceiling" in (out / "report.txt").read_text()
    assert results["summary"] == saved["summary"]
    for bad in (["--seeds", "0"], ["--tasks", "nope"], ["--reuse", str(tmp_path / "missing.json")]):
        with pytest.raises(SystemExit):
            bench.main(["--smoke", "--out", str(tmp_path / "bad"), *bad])
    assert not (tmp_path / "bad").exists()
    with pytest.raises(SystemExit):  # a non-empty folder is refused without --force
        bench.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--out", str(out)])
