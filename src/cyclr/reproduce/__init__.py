"""The paper's Table-1 experiment on a bundled task, as run by ``cyclr reproduce``.

The package is the application side of cyclr: it trains small models on the
bundled tasks (:mod:`cyclr.reproduce.tasks`) and uses the library, never the
other way round. ``import cyclr.reproduce`` needs numpy only; torch is imported
when a run starts, matplotlib when a figure is drawn.
"""

from __future__ import annotations

from .report import print_summary, report_markdown, summary_table, write_outputs
from .runner import (
    CYCLIC_POLICIES,
    END_DECAY,
    MAX_ITERATIONS,
    POLICIES,
    POLICY_DEFINITIONS,
    Plan,
    check_budget,
    check_range_test_epochs,
    iterations_to_reach,
    make_plan,
    range_test_on_task,
    run_reproduction,
    summarise,
)

__all__ = [
    "POLICIES",
    "Plan",
    "check_budget",
    "check_range_test_epochs",
    "make_plan",
    "print_summary",
    "range_test_on_task",
    "report_markdown",
    "run_reproduction",
    "summary_table",
    "write_outputs",
]
