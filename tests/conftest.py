"""Shared test setup."""

import os

# Keras picks its backend once, at first import; the tests run it on torch.
os.environ.setdefault("KERAS_BACKEND", "torch")

from hypothesis import settings  # noqa: E402

# CI replays the same examples every run (a red CI then means a change broke
# something, not an unlucky draw); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
