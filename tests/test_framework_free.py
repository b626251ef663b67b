"""The core's tests pass with every deep learning framework unimportable.

They run in a subprocess with :mod:`_block_frameworks` loaded as a pytest
plugin, which makes ``import torch`` (keras, jax, optax, tensorflow,
matplotlib) fail as if the package were not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = [
    "tests/test_schedules.py",
    "tests/test_schedule_loading.py",
    "tests/test_suggest.py",
    "src/cyclr/schedules.py",
    "src/cyclr/_formulas.py",
    "src/cyclr/scale.py",
    "src/cyclr/_validate.py",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_blocker_makes_frameworks_unimportable() -> None:
    code = (
        "import tests._block_frameworks\n"
        "tests._block_frameworks.install()\n"
        "for name in ('torch', 'keras', 'jax.numpy', 'optax', 'tensorflow', 'matplotlib.pyplot'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    raise SystemExit(f'{name} imported')\n"
        "import numpy, cyclr, cyclr.suggest\n"
        "print('blocked')\n"
    )
    proc = _run("-c", code)
    assert proc.returncode == 0 and proc.stdout.strip() == "blocked", proc.stdout + proc.stderr


def test_core_tests_pass_without_any_framework() -> None:
    proc = _run("-m", "pytest", "-p", "no:cacheprovider", "-p", "tests._block_frameworks", *CORE)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert "frameworks blocked: torch, keras, jax" in proc.stdout
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]
