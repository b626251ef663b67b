"""The integration examples run end to end with --quick."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_python

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("name", ["lightning_digits.py", "hf_trainer_tiny.py", "accelerate_digits.py"])
def test_example_runs(name, tmp_path):
    args = [str(ROOT / "examples" / name), "--quick"]
    if name != "accelerate_digits.py":
        args += ["--out", str(tmp_path)]
    proc = run_python(args, tmp_path)
    assert "bounds: " in proc.stdout
