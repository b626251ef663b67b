"""The Table-1 experiment: policy schedules, the plan, the summary, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from cyclr import CyclicSchedule
from cyclr.reproduce.plan import evaluation_points
from cyclr.plot import plot_reproduction
from cyclr.reproduce import (
    CYCLIC_POLICIES,
    END_DECAY,
    POLICIES,
    iterations_to_reach,
    make_plan,
    report_markdown,
    run_reproduction,
    summary_table,
    write_outputs,
)

TINY = {"epochs": 2, "range_test_epochs": 2, "epochs_per_step": 1}


@pytest.fixture(scope="module")
def tiny_results() -> dict[str, Any]:
    return run_reproduction("digits", seeds=2, progress=False, **TINY)


# --- the plan and the policies --------------------------------------------------


def test_plan_rounds_the_budget_down_to_whole_cycles() -> None:
    plan = make_plan(0.01, 0.04, iterations_per_epoch=30, epochs=11, epochs_per_step=2)
    assert plan.step_size == 60
    assert plan.iterations == 240  # 330 iterations hold 2 whole cycles of 120
    assert plan.cycle_ends == [120, 240]
    assert plan.points[0] == 0 and plan.points[-1] == 240
    assert set(plan.cycle_ends) | {60, 180} <= set(plan.points)
    assert plan.fixed_grid == (0.005, 0.01, pytest.approx(0.02), 0.04, 0.08)
    assert plan.gamma**plan.iterations == pytest.approx(END_DECAY)


def test_cyclic_policies_are_the_core_schedules() -> None:
    plan = make_plan(0.01, 0.05, iterations_per_epoch=10, epochs=8, epochs_per_step=2)
    it = np.arange(plan.iterations)
    for mode in ("triangular", "triangular2"):
        expected = CyclicSchedule(0.01, 0.05, 20, mode=mode)(it)
        np.testing.assert_array_equal(plan.learning_rates(mode, 0.03), expected)
    exp_range = plan.learning_rates("exp_range", 0.03)
    np.testing.assert_allclose(exp_range, CyclicSchedule(0.01, 0.05, 20, mode="exp_range", gamma=plan.gamma)(it))


def test_decay_exp_and_fixed_steps() -> None:
    plan = make_plan(0.01, 0.05, iterations_per_epoch=10, epochs=14, epochs_per_step=2)
    decay = plan.learning_rates("decay", 0.03)
    assert decay[0] == 0.05 and decay[plan.step_size] == pytest.approx(0.01)
    assert (np.diff(decay) <= 1e-15).all() and (decay[plan.step_size :] == pytest.approx(0.01))
    exp = plan.learning_rates("exp", 0.03)
    assert exp[0] == 0.03 and exp[-1] == pytest.approx(0.03 * END_DECAY, rel=0.05)
    steps = plan.learning_rates("fixed_steps", 0.03)
    assert sorted(set(np.round(steps, 12))) == [0.0003, 0.003, 0.03]
    first_drop = int(np.argmax(steps < 0.03))
    assert first_drop in plan.points and abs(first_drop - plan.iterations * 6 / 7) <= plan.step_size / 8
    np.testing.assert_array_equal(plan.learning_rates("fixed", 0.03), np.full(plan.iterations, 0.03))


def test_unknown_policy_is_rejected() -> None:
    plan = make_plan(0.01, 0.05, iterations_per_epoch=10, epochs=8, epochs_per_step=2)
    with pytest.raises(ValueError, match="policy must be one of 'fixed'.*got policy='cosine'"):
        plan.learning_rates("cosine", 0.03)


@settings(max_examples=40, deadline=None)
@given(
    base=st.floats(1e-4, 1.0),
    ratio=st.floats(1.5, 20.0),
    ipe=st.integers(1, 50),
    per_step=st.integers(1, 6),
    cycles=st.integers(1, 6),
    extra=st.integers(0, 40),
)
def test_every_policy_stays_within_its_range(
    base: float, ratio: float, ipe: int, per_step: int, cycles: int, extra: int
) -> None:
    peak = base * ratio
    epochs = 2 * per_step * cycles + extra // ipe
    plan = make_plan(base, peak, ipe, epochs, per_step)
    assert plan.iterations % (2 * plan.step_size) == 0 and plan.iterations <= epochs * ipe
    for policy in CYCLIC_POLICIES + ("decay",):
        lrs = plan.learning_rates(policy, base)
        assert len(lrs) == plan.iterations
        assert lrs.min() >= base * (1 - 1e-9) and lrs.max() <= peak * (1 + 1e-9)
    assert plan.learning_rates("triangular", base)[plan.step_size] == pytest.approx(peak)


def test_evaluation_points_include_the_extras_and_the_end() -> None:
    assert evaluation_points(10, 4, [6, 99]) == [0, 4, 6, 8, 10]


def test_iterations_to_reach() -> None:
    assert iterations_to_reach([0, 10, 20], [0.1, 0.95, 0.97], 0.95) == 10
    assert iterations_to_reach([0, 10, 20], [0.1, 0.5, 0.6], 0.95) is None


# --- a tiny end-to-end run --------------------------------------------------------


def test_results_schema(tiny_results: dict[str, Any]) -> None:
    r = tiny_results
    assert r["task"] == "digits" and r["seeds"] == [0, 1]
    assert set(r["bounds"]) >= {"base_lr", "max_lr", "method"}
    assert 0 < r["bounds"]["base_lr"] < r["bounds"]["max_lr"]
    assert list(r["policies"]) == list(POLICIES)
    assert r["fixed_lr"] in [g["lr"] for g in r["fixed_lr_grid"]]
    best_val = max(g["val_accuracy_mean"] for g in r["fixed_lr_grid"])
    assert [g["val_accuracy_mean"] for g in r["fixed_lr_grid"] if g["lr"] == r["fixed_lr"]] == [best_val]
    assert r["target_accuracy"] == r["policies"]["fixed"]["accuracy_mean"]
    for entry in r["policies"].values():
        assert entry["iterations"] == r["iterations"]
        curve = entry["curve"]
        assert curve["iterations"][0] == 0 and curve["iterations"][-1] == r["iterations"]
        assert len(curve["accuracy_mean"]) == len(curve["iterations"]) == len(curve["lr"])
        assert curve["accuracy_mean"][-1] == entry["accuracy_mean"]
        assert np.mean(entry["accuracies"]) == pytest.approx(entry["accuracy_mean"])
        assert len(entry["accuracy_at_cycle_ends"]) == len(r["cycle_ends"])
        hit = entry["iterations_to_target"]
        if hit is not None:
            assert curve["accuracy_mean"][curve["iterations"].index(hit)] >= r["target_accuracy"] - 1e-12
    assert r["policies"]["fixed"]["iterations_to_target"] is not None
    best = r["best_cyclic_policy"]
    if best is not None:
        fixed_hit = r["policies"]["fixed"]["iterations_to_target"]
        assert r["speedup"] == pytest.approx(fixed_hit / r["policies"][best]["iterations_to_target"])
    json.dumps({k: v for k, v in r.items() if k != "range_test"})


def test_a_seed_gives_the_same_numbers(tiny_results: dict[str, Any]) -> None:
    again = run_reproduction("digits", seeds=2, progress=False, **TINY)
    for key in ("bounds", "fixed_lr", "target_accuracy", "policies", "speedup"):
        assert again[key] == tiny_results[key]


def test_outputs_are_written(tiny_results: dict[str, Any], tmp_path: Path) -> None:
    paths = write_outputs(tiny_results, tmp_path / "out")
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    data = json.loads(paths["results"].read_text())
    assert data["policies"]["triangular"]["curve"]["lr"] == tiny_results["policies"]["triangular"]["curve"]["lr"]
    report = paths["report"].read_text()
    assert summary_table(tiny_results) in report
    assert "quoted, not measured here" in report and "| triangular2 | 25,000 | 81.4% |" in report
    assert "accuracy.png" in report and "range_test.png" in report
    assert "cyclr reproduce --task digits --seeds 2 --epochs 2 --epochs-per-step 1 --range-test-epochs 2" in report


def test_report_says_when_no_cyclic_policy_reached_the_target(tiny_results: dict[str, Any]) -> None:
    missed = json.loads(json.dumps({k: v for k, v in tiny_results.items() if k != "range_test"}))
    for name in CYCLIC_POLICIES:
        missed["policies"][name]["iterations_to_target"] = None
        missed["policies"][name]["speedup"] = None
    missed["best_cyclic_policy"], missed["speedup"] = None, None
    text = report_markdown(missed)
    assert "no cyclic policy reached the fixed LR's final test accuracy" in text
    assert "| triangular |" in text and "not reached" in text


def test_run_reproduction_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        run_reproduction("digits", seeds=0)
    with pytest.raises(ValueError, match="task must be one of"):
        run_reproduction("cifar")
    with pytest.raises(ValueError, match="epochs must cover at least one cycle"):
        run_reproduction("digits", epochs=3, epochs_per_step=2, progress=False)


def test_a_budget_one_iteration_short_of_a_cycle_is_rejected_before_the_range_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_range_test(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the range test ran before the budget was checked")

    monkeypatch.setattr("cyclr.reproduce.runner.range_test_on_task", no_range_test)
    # digits: 63 iterations per epoch; 2.5 epochs round to a step of 158, so a cycle is 316 > 5 * 63
    with pytest.raises(ValueError, match=r"epochs must cover at least one cycle .* got epochs=5 \(315 iterations\)"):
        run_reproduction("digits", epochs=5, epochs_per_step=2.5, progress=False)
    with pytest.raises(ValueError, match="epochs must cover at least one cycle"):
        make_plan(0.01, 0.1, iterations_per_epoch=63, epochs=5, epochs_per_step=2.5)


def test_plot_reproduction(tiny_results: dict[str, Any]) -> None:
    fig = plot_reproduction(tiny_results)
    assert isinstance(fig, Figure)
    acc_ax, lr_ax = fig.axes
    assert {line.get_label() for line in acc_ax.get_lines()} >= set(POLICIES)
    assert len(lr_ax.get_lines()) >= len(POLICIES)
    with pytest.raises(ValueError, match="at least one policy"):
        plot_reproduction({"policies": {}})


def test_speedups_against_the_papers_fixed_steps_baseline() -> None:
    from types import SimpleNamespace

    from cyclr import Bounds
    from cyclr.reproduce import POLICIES, make_plan, summarise

    plan = make_plan(0.01, 0.04, iterations_per_epoch=4, epochs=4, epochs_per_step=1)
    n = len(plan.points)

    def curve(values: np.ndarray) -> dict:
        return {"test": values[None], "val": values[None], "lr": np.full(n, 0.02), "diverged": np.zeros(1, bool)}

    slow = np.linspace(0.5, 0.9, n)          # reaches its final 0.9 at the last point
    fast = np.minimum(slow + 0.25, 0.95)     # passes 0.9 well before the end
    curves = {name: curve(slow) for name in POLICIES}
    curves["triangular"] = curve(fast)
    results = summarise(SimpleNamespace(name="toy", description="toy"), plan, Bounds(0.01, 0.04, "valley", "x"),
                        0.02, {0.02: curves["fixed"]}, curves, [0])
    points = list(plan.points)
    first = next(p for p, v in zip(points, fast) if v >= 0.9)
    assert results["target_fixed_steps"] == pytest.approx(0.9)
    assert results["policies"]["triangular"]["speedup_vs_fixed_steps"] == pytest.approx(points[-1] / first)
    assert results["policies"]["fixed_steps"]["speedup_vs_fixed_steps"] == pytest.approx(1.0)
    assert results["speedup_vs_fixed_steps"] == results["policies"][results["best_cyclic_policy"]]["speedup_vs_fixed_steps"]
