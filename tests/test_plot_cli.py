"""The schedule preview figure and the ``cyclr plot`` command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from cyclr import CyclicSchedule, OneCycleSchedule, RangeSweep
from cyclr.cli import main
from cyclr.plot import plot_schedules


def test_preview_draws_lr_momentum_and_cycle_ends():
    sched = CyclicSchedule(0.001, 0.006, step_size_up=100)
    fig = plot_schedules({"tri": sched, "1cycle": OneCycleSchedule(0.006, 500)}, 1000, momentum=(0.8, 0.9))
    assert isinstance(fig, Figure)
    lr_axes = [ax for ax in fig.axes if ax.get_ylabel() == "learning rate"]
    assert len(lr_axes) == 2
    x, y = lr_axes[0].lines[0].get_data()
    np.testing.assert_allclose(y, sched(x))
    cycle_ends = [line for line in lr_axes[0].lines[1:] if line.get_linestyle() == ":"]
    assert [line.get_xdata()[0] for line in cycle_ends] == [200, 400, 600, 800]
    assert any(ax.get_ylabel() == "momentum" for ax in fig.axes)


def test_preview_draws_a_range_sweep_up_to_its_last_step():
    sweep = RangeSweep(0.0, 1.0, 50)
    fig = plot_schedules(sweep, 200)
    x, y = fig.axes[0].lines[0].get_data()
    assert x[-1] == 49
    np.testing.assert_allclose(y, sweep(x))


def test_equal_schedules_each_get_a_panel():
    sched = CyclicSchedule(0.001, 0.006, step_size_up=10)
    fig = plot_schedules([sched, sched], 50, momentum=None)
    assert len([ax for ax in fig.axes if ax.get_ylabel() == "learning rate"]) == 2


def test_preview_rejects_nothing_to_draw():
    with pytest.raises(ValueError, match="at least one schedule"):
        plot_schedules([], 10)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        plot_schedules(CyclicSchedule(0.1, 0.2), 0)


def test_plot_command_writes_png_comparing_modes(tmp_path):
    out = tmp_path / "lr.png"
    code = main(
        ["plot", "--mode", "triangular", "triangular2", "exp_range", "--base-lr", "0.001", "--max-lr", "0.006",
         "--step-size", "20", "--iterations", "200", "--momentum", "0.8", "0.9", "-o", str(out)]
    )
    assert code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--base-lr=-1e308", "--max-lr", "1e308"], "max-lr - base-lr overflows"),
        (["--base-lr", "0.001", "--max-lr", "0.01", "--step-size", "0"], "step-size must be nonzero"),
        (["--base-lr", "0.001", "--max-lr", "0.01", "--mode", "cosine"], "invalid choice: 'cosine'"),
        (["--max-lr", "0.01"], "the following arguments are required: --base-lr"),
    ],
)
def test_plot_command_bad_arguments_exit_2_with_message(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "cyclr", "plot", *args, "-o", str(tmp_path / "x.png")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "x.png").exists()
