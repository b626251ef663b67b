"""The library and the application stay apart; the old import paths of moved names keep working."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIBRARY_MODULES = ("cyclr", "cyclr.schedules", "cyclr.scale", "cyclr.suggest", "cyclr.rangetest", "cyclr.plot")


def imported_after(code: str) -> set[str]:
    """The modules loaded by ``code`` in a fresh interpreter."""
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_the_library_never_imports_the_application(module: str) -> None:
    loaded = imported_after(f"import {module}")
    assert not {m for m in loaded if m in ("cyclr.cli", "cyclr.tasks") or m.startswith("cyclr.reproduce")}


def test_the_experiment_imports_no_framework_until_it_runs() -> None:
    loaded = imported_after("import cyclr.reproduce")
    assert not loaded & {"torch", "matplotlib", "keras", "jax"}


def test_plot_reproduction_keeps_its_old_import_path() -> None:
    loaded = imported_after("from cyclr.plot import plot_reproduction")
    assert "torch" not in loaded
    import cyclr.plot
    from cyclr.reproduce.figures import plot_reproduction

    assert cyclr.plot.plot_reproduction is plot_reproduction
    with pytest.raises(AttributeError, match="no attribute 'plot_nothing'"):
        cyclr.plot.plot_nothing  # noqa: B018


def test_cyclr_tasks_is_the_same_module_as_the_moved_one() -> None:
    import cyclr.reproduce.tasks
    import cyclr.tasks
    from cyclr.tasks import digits, mnist
    from cyclr.tasks._base import Task

    assert cyclr.tasks is cyclr.reproduce.tasks
    assert digits is cyclr.reproduce.tasks.digits and mnist is cyclr.reproduce.tasks.mnist
    assert Task is cyclr.reproduce.tasks.Task


def test_plan_is_the_earlier_name_of_training_plan() -> None:
    from cyclr.reproduce import Plan, TrainingPlan

    assert Plan is TrainingPlan


def test_the_package_exports_no_private_helpers() -> None:
    import cyclr.reproduce

    assert all(not name.startswith("_") for name in cyclr.reproduce.__all__)
    assert all(hasattr(cyclr.reproduce, name) for name in cyclr.reproduce.__all__)
