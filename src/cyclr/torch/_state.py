"""One copy of everything a range test changes, restored bitwise afterwards."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer


def _copy_tensors(obj: Any, device: torch.device | None) -> Any:
    """Deep copy of a state_dict-like structure; tensors are cloned (to ``device`` if given)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to(device, copy=True) if device is not None else obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _copy_tensors(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_copy_tensors(v, device) for v in obj)
    return copy.deepcopy(obj)


class TrainingState:
    """Parameters, buffers (persistent or not), gradients, train/eval flags, optimizer,
    GradScaler and torch's RNG, copied once.

    Args:
        device: where the copy lives (``"cpu"`` to spare accelerator memory);
            None keeps each tensor on its own device.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        scaler: Any = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.device = None if device is None else torch.device(device)
        self.rng_cpu = torch.get_rng_state()
        cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
        self.rng_cuda = torch.cuda.get_rng_state_all() if cuda else None
        with torch.no_grad():
            self.tensors = [_copy_tensors(t, self.device) for t in self._live_tensors()]
            self.grads = [None if p.grad is None else _copy_tensors(p.grad, self.device) for p in model.parameters()]
        self.devices = [t.device for t in self._live_tensors()]
        self.training = [m.training for m in model.modules()]
        self.optimizer_state = _copy_tensors(optimizer.state_dict(), self.device)
        self.scaler_state = copy.deepcopy(scaler.state_dict()) if scaler is not None else None

    def _live_tensors(self) -> list[torch.Tensor]:
        return [*self.model.parameters(), *self.model.buffers()]

    def restore(self, final: bool = True) -> None:
        """Put everything back. With ``final=False`` the copy stays intact for another restore."""
        live = self._live_tensors()
        if [t.device for t in live] != self.devices:
            # the runner moved the model; move it back before copying values in
            for t, device in zip(live, self.devices):
                t.data = t.data.to(device)
        with torch.no_grad():
            for t, saved in zip(live, self.tensors):
                t.copy_(saved)
            for p, saved in zip(self.model.parameters(), self.grads):
                p.grad = None if saved is None else saved.to(p.device, copy=not final)
        for m, mode in zip(self.model.modules(), self.training):
            m.training = mode
        # load_state_dict may adopt the saved tensors as the live state: hand over a copy unless this is the last use
        state = self.optimizer_state if final else _copy_tensors(self.optimizer_state, None)
        self.optimizer.load_state_dict(state)
        if self.scaler is not None and self.scaler_state is not None:
            self.scaler.load_state_dict(copy.deepcopy(self.scaler_state))
        torch.set_rng_state(self.rng_cpu)
        if self.rng_cuda is not None:
            torch.cuda.set_rng_state_all(self.rng_cuda)
