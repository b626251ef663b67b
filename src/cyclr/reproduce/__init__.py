"""The paper's Table-1 experiment on a bundled task, as run by ``cyclr reproduce``.

The package is the application side of cyclr: it trains small models on the
bundled tasks (:mod:`cyclr.reproduce.tasks`) with the library, which never
imports it. ``import cyclr.reproduce`` needs numpy only; torch is imported
when a run starts, matplotlib when a figure is drawn.

Modules: :mod:`~cyclr.reproduce.plan` (the policies, the budget checks, the
plan), :mod:`~cyclr.reproduce.runner` (the range test and the runs),
:mod:`~cyclr.reproduce.training` (the SGD loop), :mod:`~cyclr.reproduce.summary`
(the results as data), :mod:`~cyclr.reproduce.report` (report.md, results.json
and the terminal summary), :mod:`~cyclr.reproduce.figures` (the accuracy figure),
:mod:`~cyclr.reproduce.find` (``cyclr find``'s plumbing) and
:mod:`~cyclr.reproduce.tasks` (the bundled data and models).

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186
"""

from __future__ import annotations

from .plan import (
    CYCLIC_POLICIES,
    END_DECAY,
    MAX_ITERATIONS,
    POLICIES,
    POLICY_DEFINITIONS,
    Plan,
    TrainingPlan,
    check_budget,
    check_range_test_epochs,
    make_plan,
)
from .report import print_summary, report_markdown, summary_table, write_outputs
from .runner import range_test_on_task, run_reproduction
from .summary import iterations_to_reach, summarise

__all__ = [
    "CYCLIC_POLICIES",
    "END_DECAY",
    "MAX_ITERATIONS",
    "POLICIES",
    "POLICY_DEFINITIONS",
    "Plan",
    "TrainingPlan",
    "check_budget",
    "check_range_test_epochs",
    "iterations_to_reach",
    "make_plan",
    "print_summary",
    "range_test_on_task",
    "report_markdown",
    "run_reproduction",
    "summarise",
    "summary_table",
    "write_outputs",
]
