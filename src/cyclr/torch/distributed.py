"""torch.distributed helpers: the range test's only contact with other processes.

In a single process (or when torch.distributed is not initialised) these are
identities and issue no collective. Under torch.distributed every rank must
record the same curve, so the range test sends its per-step losses and its
validation sums through :func:`reduce` - one ``all_reduce`` per flush, never
more than one per step - and only the main process draws progress bars or
writes files. Works with any backend (gloo on CPU, nccl on GPUs).

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (the range test run here on several processes).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["is_distributed", "is_main_process", "rank", "reduce", "world_size"]


def is_distributed() -> bool:
    """True when torch.distributed is initialised with more than one process.

    Returns:
        Whether the range test must combine its numbers across processes.

    Examples:
        >>> from cyclr.torch import distributed
        >>> distributed.is_distributed()  # a single process
        False
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed).

    Returns:
        The rank in the default process group.

    Examples:
        >>> from cyclr.torch import distributed
        >>> distributed.rank()
        0
    """
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed).

    Returns:
        The size of the default process group.

    Examples:
        >>> from cyclr.torch import distributed
        >>> distributed.world_size()
        1
    """
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """True on the process that reports progress and writes files (rank 0).

    Returns:
        Whether this is rank 0.

    Examples:
        >>> from cyclr.torch import distributed
        >>> distributed.is_main_process()
        True
    """
    return rank() == 0


def reduce(values: torch.Tensor, average: bool) -> torch.Tensor:
    """Combine ``values`` across processes: the mean over ranks if ``average``, else the sum.

    Every rank gets the same result. The tensor must be on a device the backend
    supports (CUDA for nccl); ``values`` itself is left unchanged.

    Args:
        values: this process's numbers.
        average: divide the sum by the number of processes.

    Returns:
        The combined tensor (``values`` itself in a single process).

    Raises:
        RuntimeError: the collective fails (e.g. a CPU tensor under nccl).

    Examples:
        >>> import torch
        >>> from cyclr.torch import distributed
        >>> distributed.reduce(torch.tensor([1.0, 3.0]), average=True)  # a single process
        tensor([1., 3.])
    """
    if not is_distributed():
        return values
    combined = values.detach().clone()
    dist.all_reduce(combined, op=dist.ReduceOp.SUM)
    if average:
        combined /= dist.get_world_size()
    return combined
