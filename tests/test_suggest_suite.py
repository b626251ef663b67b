"""The suggestion yardstick in benchmarks/suggest_suite.py: tasks build, the maths, one tiny run end to end."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

import sklearn  # noqa: F401  (the extra this test needs)
import torch_lr_finder  # noqa: F401  (the extra this test needs)
import matplotlib  # noqa: F401  (the extra this test needs)

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "suggest_suite.py"


@pytest.fixture(scope="module")
def suite():
    spec = importlib.util.spec_from_file_location("suggest_suite", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["suggest_suite"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("suggest_suite", None)


def test_at_least_eight_diverse_tasks(suite):
    tasks = suite.TASKS.values()
    assert len(suite.TASKS) >= 8
    assert {t.optimizer for t in tasks} == {"sgd", "sgd_plain", "adam", "adamw", "rmsprop"}
    assert len({t.batch_size for t in tasks}) >= 2
    assert {t.metric for t in tasks} == {suite.ACCURACY, suite.MSE}
    for t in tasks:
        assert t.epochs_per_cycle % 2 == 0 and 2 <= t.epochs_per_cycle <= 10
        assert len(t.grid) >= 5 and t.grid[-1] / t.grid[0] >= 100
        assert list(t.grid) == sorted(t.grid)


@pytest.mark.parametrize("name", ["digits_mlp", "mnist_cnn", "digits_bn_cnn", "digits_resnet", "digits_rows_gru",
                                  "signal1d_cnn", "diabetes_mlp", "cancer_mlp", "digits_rows_attention",
                                  "moons_mlp", "friedman_mlp", "classify40_dropout"])
def test_task_builds_and_trains_one_step(suite, name):
    task = suite.TASKS[name]
    model = task.build_model(0)
    again = task.build_model(0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    optimizer = task.make_optimizer(model, task.grid[len(task.grid) // 2])
    x, y = next(iter(task.train_loader(0)))
    assert len(x) == task.batch_size
    loss = task.criterion()(model(x), y)
    loss.backward()
    optimizer.step()
    assert math.isfinite(loss.item())
    score = suite.evaluate(task, model)
    assert 0 <= score <= 100 if task.metric == suite.ACCURACY else 0 < score <= task.null_score()


def test_gap_and_collapse_rules(suite):
    acc, mse = suite.ACCURACY, suite.MSE
    assert suite.gap(acc, 95.0, 96.5) == pytest.approx(-1.5)
    assert suite.is_collapse(acc, 95.0, 96.5)
    assert not suite.is_collapse(acc, 95.5, 96.5)  # exactly 1 point worse is not a collapse
    assert not suite.is_collapse(acc, 97.0, 96.5)
    assert suite.gap(mse, 0.55, 0.50) == pytest.approx(-10.0)  # lower is better: 10 % worse
    assert suite.gap(mse, 0.45, 0.50) == pytest.approx(10.0)
    assert suite.is_collapse(mse, 0.53, 0.50)  # 6 % worse
    assert not suite.is_collapse(mse, 0.52, 0.50)  # 4 % worse
    assert not suite.is_collapse(mse, 0.40, 0.50)


def test_iterations_and_speedup(suite):
    acc, mse = suite.ACCURACY, suite.MSE
    assert suite.iterations_to(acc, [80.0, 90.0, 95.0, 94.0], 94.0, 10) == 30
    assert suite.iterations_to(acc, [80.0, 90.0], 94.0, 10) is None
    assert suite.iterations_to(mse, [0.9, 0.5, 0.6], 0.55, 7) == 14
    assert suite.speedup(40, 10) == pytest.approx(4.0)
    assert suite.speedup(40, None) is None
    assert suite.median_speedup([2.0, None, 3.0]) == pytest.approx(2.0)  # never reached counts as 0


def test_results_json_has_no_nan(suite):
    assert suite.finite_json({"a": [1.0, float("nan"), {"b": float("inf")}], "c": "x"}) == {
        "a": [1.0, None, {"b": None}], "c": "x"}


def _run(curve, policy, ipe=10):
    return {"curve": curve, "final": curve[-1], "policy": policy, "iterations_per_eval": ipe}


def test_summary_of_a_hand_made_example(suite):
    grid = (0.01, 0.1)
    per_seed = {}
    for s, shift in (("0", 0.0), ("1", 1.0)):
        per_seed[s] = {"runs": {
            "constant 0.01": _run([50.0, 70.0, 80.0 + shift, 85.0 + shift], {"lr": 0.01}),
            "constant 0.1": _run([60.0, 80.0, 90.0 + shift, 92.0 + shift], {"lr": 0.1}),
            suite.CYCLR: _run([85.0, 92.0 + shift, 91.0, 93.0 + shift], {"base_lr": 0.05, "max_lr": 0.2}),
            suite.TLF: _run([10.0, 10.0, 10.0, 10.0], {"base_lr": 1.0, "max_lr": 4.0}),
        }}
    summary = suite.summarize_task(suite.ACCURACY, grid, per_seed)
    assert summary["best_constant"] == "constant 0.1"
    assert summary["best_at_grid_edge"]
    mine = summary["policies"][suite.CYCLR]
    # best constant reaches its final 92 (93) at the 4th evaluation = 40 iterations; CLR at the 2nd = 20
    assert mine["speedup"] == {"0": pytest.approx(2.0), "1": pytest.approx(2.0)}
    assert mine["gap"] == {"0": pytest.approx(1.0), "1": pytest.approx(1.0)}
    assert mine["collapses"] == 0 and mine["mean"] == pytest.approx(93.5)
    peer = summary["policies"][suite.TLF]
    assert peer["collapses"] == 2 and peer["median_speedup"] == 0.0
    assert summary["policies"][suite.FASTAI]["no_bounds"] == 2
    assert summary["policies"][suite.BEST]["median_speedup"] == pytest.approx(1.0)
    overall = suite.summarize_suite({"toy": {"summary": summary}})
    assert overall["readings"][suite.TLF]["collapses"] == 2
    assert overall["cyclr_vs"]["toy"][suite.TLF]["at_least_as_good"]
    assert overall["cyclr_vs"]["toy"][suite.BEST]["difference"] == pytest.approx(1.0)
    assert overall["cyclr_vs"]["toy"][suite.FASTAI]["difference"] is None


def test_peer_readings_on_a_known_curve(suite):
    lrs = [10 ** (-7 + 8 * i / 99) for i in range(100)]
    # flat, then a clean drop between steps 40 and 70, then a blow-up
    losses = [2.0 if i < 40 else 2.0 - 1.5 * (i - 40) / 30 if i < 70 else 0.5 * 1.3 ** (i - 70) for i in range(100)]
    x, y = suite.peer_loss_curve(lrs, losses)
    assert len(x) < 100  # stopped at 4x the minimum
    valley = suite.fastai_valley(x, y)
    steepest = suite.lightning_steepest(x, y)
    assert lrs[40] < valley < lrs[85]
    assert lrs[40] < steepest < lrs[85]


def test_one_task_end_to_end(suite, tmp_path):
    out = tmp_path / "suite"
    results = suite.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--out", str(out)])
    saved = json.loads((out / "results.json").read_text())
    assert (out / "suggest_suite.png").stat().st_size > 0 and (out / "report.txt").exists()
    assert set(saved) == {"settings", "tasks", "summary", "seconds"}
    entry = saved["tasks"]["cancer_mlp"]
    assert set(entry) == {"spec", "seeds", "summary"}
    seed = entry["seeds"]["0"]
    assert set(seed["range_tests"]["readings"]) == set(suite.READINGS)
    assert {suite.const_name(lr) for lr in entry["spec"]["grid"]} <= set(seed["runs"])
    for run in seed["runs"].values():
        assert len(run["curve"]) == entry["spec"]["epochs"]
    assert set(saved["summary"]["readings"]) == {*suite.READINGS, suite.ORACLE, suite.BEST}
    best_lr = entry["summary"]["best_lr"]
    assert seed["runs"][suite.ORACLE]["policy"] == {"base_lr": best_lr / 2, "max_lr": best_lr * 2}
    assert results["summary"]["readings"][suite.BEST]["collapses"] == 0
    with pytest.raises(SystemExit):  # a non-empty folder is refused without --force
        suite.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--out", str(out)])

    # --reuse: the constant and peer rows come from the earlier run, cyclr's are run again
    again = suite.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--out",
                        str(tmp_path / "again"), "--reuse", str(out / "results.json")])
    assert again["settings"]["reused"] == ["cancer_mlp/0"]
    runs, old_runs = again["tasks"]["cancer_mlp"]["seeds"]["0"]["runs"], seed["runs"]
    assert set(runs) == set(old_runs)
    for name in runs:
        if name not in suite.OURS:  # the constants, the peers and the CLR around the best constant
            assert runs[name]["curve"] == old_runs[name]["curve"]
            assert runs[name]["seconds"] == old_runs[name]["seconds"]  # taken, not trained again
    assert runs[suite.CYCLR]["curve"] == old_runs[suite.CYCLR]["curve"]  # the same seeds give the same run
    assert runs[suite.CYCLR]["seconds"] != old_runs[suite.CYCLR]["seconds"]
    readings = again["tasks"]["cancer_mlp"]["seeds"]["0"]["range_tests"]["readings"]
    assert readings[suite.TLF] == seed["range_tests"]["readings"][suite.TLF]
    with pytest.raises(SystemExit):  # an unreadable --reuse is one line, exit 2
        suite.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--out", str(tmp_path / "x"),
                    "--reuse", str(tmp_path / "missing.json")])
    assert not (tmp_path / "x").exists()  # checked before any folder is made


def test_cycles_override_trains_longer(suite, tmp_path):
    long = suite.get_task("cancer_mlp", tiny=True, cycles=2)
    assert long.cycles == 2 and long.epochs == 2 * suite.get_task("cancer_mlp", tiny=True).epochs
    results = suite.main(["--smoke", "--tasks", "cancer_mlp", "--seeds", "1", "--jobs", "1", "--cycles", "2",
                          "--out", str(tmp_path / "long")])
    assert results["settings"]["cycles"] == 2
    entry = results["tasks"]["cancer_mlp"]
    assert entry["spec"]["cycles"] == 2
    for run in entry["seeds"]["0"]["runs"].values():
        assert len(run["curve"]) == long.epochs
    for bad in ("0", "-3"):
        with pytest.raises(SystemExit):
            suite.main(["--smoke", "--tasks", "cancer_mlp", "--cycles", bad, "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
