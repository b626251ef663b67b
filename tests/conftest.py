"""Shared test setup."""

import os

# Keras picks its backend once, at first import; the tests run it on torch.
os.environ.setdefault("KERAS_BACKEND", "torch")
