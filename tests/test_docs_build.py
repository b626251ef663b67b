"""The documentation site builds in strict mode, and its getting-started code runs.

The strict build fails on any warning: a broken link or cross-reference, a
page missing from the nav, or a docstring griffe cannot parse. The code
blocks of the getting-started pages run top to bottom, one namespace per
page, so the examples cannot drift from the API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GETTING_STARTED = sorted((DOCS / "getting-started").glob("*.md"))
# a fenced block at the start of a line: indented ones (inside tabs) are fragments, not runnable pages
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

import mkdocs  # noqa: F401  (the extra this test needs)
import material  # noqa: F401  (the extra this test needs)
import mkdocstrings_handlers.python  # noqa: F401


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("KERAS_BACKEND", "torch")
    env["OMP_NUM_THREADS"] = "1"  # tiny models: extra threads only contend for the cores
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


def test_docs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (site / "index.html").is_file()
    assert (site / "api" / "torch" / "index.html").is_file()
    for figure in ("range-test-paper.png", "range-test-readings.png", "gallery-policies.png"):
        assert (site / "generated" / figure).is_file(), figure


@pytest.mark.parametrize("page", GETTING_STARTED, ids=[p.stem for p in GETTING_STARTED])
def test_getting_started_code_runs(page: Path, tmp_path: Path) -> None:
    blocks = PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no python code block"
    script = "\n".join(
        f"exec(compile({code!r}, {f'{page.name}, block {i + 1}'!r}, 'exec'), namespace)"
        for i, code in enumerate(blocks)
    )
    proc = subprocess.run(
        [sys.executable, "-c", "namespace = {'__name__': '__main__'}\n" + script],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
