"""The integration examples run end to end with --quick."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("name", ["lightning_digits.py", "hf_trainer_tiny.py", "accelerate_digits.py"])
def test_example_runs(name, tmp_path):
    env = os.environ | {"OMP_NUM_THREADS": "1",
                        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, str(ROOT / "examples" / name), "--quick"]
    if name != "accelerate_digits.py":
        args += ["--out", str(tmp_path)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bounds: " in proc.stdout
