"""Helpers shared by the tests: float32 comparisons, schedule configurations, the benchmark scripts."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import strategies as st

MODES = ["triangular", "triangular2", "exp_range"]
SHAPES = ["triangular", "welch", "hann"]


def assert_float32_close(got: Any, expected: Any, scale: float) -> None:
    """Equal up to float32 rounding of values of magnitude ``scale``."""
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), expected, rtol=5e-6, atol=4e-7 * scale)


def lr_bounds() -> st.SearchStrategy[list[float]]:
    """``[base_lr, max_lr]`` with ``base_lr <= max_lr``."""
    return st.tuples(st.floats(1e-6, 1.0), st.floats(1e-6, 1.0)).map(sorted)


def cyclic_configs(step_sizes: st.SearchStrategy[float]) -> st.SearchStrategy[dict[str, Any]]:
    """Every mode and shape of a cyclic schedule, with a slowly decaying ``gamma``."""
    return st.fixed_dictionaries(
        {
            "step_size_up": step_sizes,
            "step_size_down": st.one_of(st.none(), step_sizes),
            "mode": st.sampled_from(MODES),
            "gamma": st.floats(0.999, 1.0),
            "shape": st.sampled_from(SHAPES),
        }
    )


ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def run_python(args: list[str], cwd: Path, *, processes: int = 1, ports: bool = False
               ) -> subprocess.CompletedProcess[str]:
    """``python *args`` with this checkout's ``src`` importable and one thread per process.

    With ``processes`` > 1 it runs under ``torch.distributed.run``. Such a run (or one with
    ``ports``: a script that starts its own ranks) takes a free network port, so these runs go
    one at a time across the test workers. A non-zero exit fails the test with its stderr.
    """
    env = os.environ | {"OMP_NUM_THREADS": "1",
                        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    command = [sys.executable, *(launcher if processes > 1 else []), *args]
    with _one_at_a_time() if processes > 1 or ports else contextlib.nullcontext():
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@contextlib.contextmanager
def _one_at_a_time() -> Iterator[None]:
    """An exclusive lock shared by every test process on this machine (none where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    with open(Path(tempfile.gettempdir()) / "cyclr-tests-network-ports.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def benchmark_module(name: str) -> Iterator[ModuleType]:
    """``benchmarks/<name>.py`` loaded as a module, with ``benchmarks/`` importable (for ``suggest_suite``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("suggest_suite", None)
