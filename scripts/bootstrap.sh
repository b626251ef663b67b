#!/usr/bin/env bash
# Create .venv with cyclr and every extra, preferring a CPU build of PyTorch.
# An interpreter that already has torch is reused (its torch is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    "$PYTHON" -m venv --system-site-packages "$VENV"   # keep the torch you have
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  # A CPU wheel is a few hundred MB; the default CUDA build is several GB.
  "${PIP[@]}" install "torch==2.13.0+cpu" 2>/dev/null \
    || "${PIP[@]}" install torch --index-url https://download.pytorch.org/whl/cpu --timeout 60 2>/dev/null \
    || "${PIP[@]}" install torch
fi
"${PIP[@]}" install -e ".[dev]"
