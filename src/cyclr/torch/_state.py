"""One copy of everything a range test changes, restored bitwise afterwards.

Every tensor comes back in the same tensor object, with its dtype, device and
values: values are copied into the live tensors (or, where a tensor changed
device, dtype or shape, the tensor is pointed at a fresh copy), never through
``Optimizer.load_state_dict``, which casts state to each parameter's dtype. The
copy itself is never modified, so a restore that fails partway can be repeated.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186 (the range test, which trains the model it is given).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

Restorer = Callable[[], Any]


class RestoreError(RuntimeError):
    """The range test could not put everything back; ``snapshot.restore()`` retries.

    Args:
        message: what failed.
        snapshot: the saved copy, intact.

    Examples:
        >>> import torch
        >>> from cyclr.torch._state import RestoreError, TrainingState
        >>> model = torch.nn.Linear(2, 1)
        >>> state = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1))
        >>> RestoreError("the device went away", state).snapshot is state
        True
    """

    def __init__(self, message: str, snapshot: TrainingState) -> None:
        super().__init__(message)
        self.snapshot = snapshot


def _clone(t: torch.Tensor, device: torch.device | None) -> torch.Tensor:
    t = t.detach()
    return t.to(device, copy=True) if device is not None else t.clone()


def _put_back(live: torch.Tensor, saved: torch.Tensor, device: torch.device, dtype: torch.dtype) -> None:
    """Give ``live`` the values of ``saved`` on ``device`` as ``dtype``, in its own storage where it still fits."""
    with torch.no_grad():
        if live.device == device and live.dtype == dtype and live.shape == saved.shape:
            live.copy_(saved)
        else:
            live.data = saved.to(device=device, dtype=dtype, copy=True)


def _saver(value: Any, device: torch.device | None) -> Restorer:
    """Copy ``value`` now; the returned function puts the copy back and returns what to store.

    Tensors come back as the same objects; containers are rebuilt around them;
    other values are deep copies (fresh on every call).
    """
    if isinstance(value, torch.Tensor):
        saved, origin = _clone(value, device), (value.device, value.dtype)

        def tensor() -> torch.Tensor:
            _put_back(value, saved, *origin)
            return value

        return tensor
    if isinstance(value, dict):
        items = [(k, _saver(v, device)) for k, v in value.items()]
        return lambda: {k: restore() for k, restore in items}
    if isinstance(value, (list, tuple)) and (type(value) in (list, tuple)):
        parts = [_saver(v, device) for v in value]
        return lambda: type(value)(restore() for restore in parts)
    kept = copy.deepcopy(value)
    return lambda: copy.deepcopy(kept)


def _unique(tensors: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    seen: dict[int, torch.Tensor] = {}
    for t in tensors:
        seen.setdefault(id(t), t)
    return list(seen.values())


def _module_tensors(module: Any) -> list[torch.Tensor]:
    if not isinstance(module, nn.Module):
        return []
    return [*module.parameters(), *module.buffers()]


def _check_storable(name: str, tensors: Iterable[torch.Tensor]) -> None:
    for t in tensors:
        if t.device.type == "meta":
            raise ValueError(
                f"{name} must keep its tensors on a device that holds data to be restored, "
                f"got a tensor of shape {tuple(t.shape)} on device='meta'"
            )


def _nested_tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _nested_tensors(v)]
    return []


def check_restorable(
    model: nn.Module, optimizer: Optimizer, criterion: Any = None, device: torch.device | str | None = None
) -> None:
    """Refuse, before any training, a state whose values could not be kept for a restore.

    Args:
        model: the model under test.
        optimizer: its optimizer.
        criterion: the loss (its tensors are checked when it is a module).
        device: where the copy would live.

    Raises:
        ValueError: a tensor (or ``device``) is on the meta device, which holds no values;
            the message names the argument.

    Examples:
        >>> import torch
        >>> from cyclr.torch._state import check_restorable
        >>> model = torch.nn.Linear(2, 1, device="meta")
        >>> check_restorable(model, torch.optim.SGD(model.parameters(), lr=0.1))
        Traceback (most recent call last):
        ...
        ValueError: model must keep its tensors on a device that holds data to be restored, got a tensor of shape (1, 2) on device='meta'
    """
    _check_storable("model", _module_tensors(model))
    _check_storable("criterion", _module_tensors(criterion))
    groups = [t for g in optimizer.param_groups for t in g["params"]]
    _check_storable("optimizer", itertools.chain(groups, _nested_tensors(list(optimizer.state.values()))))
    if device is not None and torch.device(device).type == "meta":
        raise ValueError(f"state_device must be a device that holds data, got state_device={device!r}")


class _TensorCopy:
    """One live tensor's values, dtype, device and gradient."""

    __slots__ = ("tensor", "values", "device", "dtype", "grad")

    def __init__(self, tensor: torch.Tensor, device: torch.device | None) -> None:
        self.tensor = tensor
        self.values = _clone(tensor, device)
        self.device, self.dtype = tensor.device, tensor.dtype
        grad = tensor.grad if tensor.is_leaf else None
        self.grad = None if grad is None else (_clone(grad, device), grad.device, grad.dtype)

    def restore(self) -> None:
        _put_back(self.tensor, self.values, self.device, self.dtype)
        if self.tensor.is_leaf:
            if self.grad is None:
                self.tensor.grad = None
            else:
                values, device, dtype = self.grad
                self.tensor.grad = values.to(device=device, dtype=dtype, copy=True)


class RngState:
    """torch's global random number generators, saved now: the CPU one, and CUDA's once initialised.

    A shuffling DataLoader and unseeded dropout draw from them, so a range test
    saves them first and puts them back after.

    Examples:
        >>> import torch
        >>> from cyclr.torch._state import RngState
        >>> saved = RngState()
        >>> first = torch.rand(1)
        >>> saved.restore()
        >>> torch.equal(torch.rand(1), first)
        True
    """

    __slots__ = ("cpu", "cuda")

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        initialised = torch.cuda.is_available() and torch.cuda.is_initialized()
        self.cuda = torch.cuda.get_rng_state_all() if initialised else None

    def restore(self) -> None:
        """Put the saved states back; can run again.

        Raises:
            RuntimeError: torch rejects a state (e.g. the CUDA devices changed).

        Examples:
            >>> import torch
            >>> from cyclr.torch._state import RngState
            >>> saved = RngState()
            >>> first = torch.randint(100, (3,))
            >>> saved.restore(); saved.restore()
            >>> torch.equal(torch.randint(100, (3,)), first)
            True
        """
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


class TrainingState:
    """Parameters, buffers (persistent or not) and gradients of the model and
    the criterion, every tensor of every optimizer param group, the optimizer's
    state and hyperparameters, train/eval flags, the GradScaler and torch's RNG,
    copied once.

    Args:
        model: the model under test.
        optimizer: its optimizer.
        scaler: a ``torch.amp.GradScaler``, or None.
        device: where the copy lives (``"cpu"`` to spare accelerator memory);
            None keeps each tensor on its own device.
        criterion: the loss; copied too when it is a module.
        rng: torch's RNG state to put back; None: saved now.

    Raises:
        ValueError: a tensor sits on the meta device, where its values cannot be kept.

    Examples:
        >>> import torch
        >>> from cyclr.torch._state import TrainingState
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> weight = model.weight.detach().clone()
        >>> state = TrainingState(model, optimizer)
        >>> model(torch.ones(4, 2)).sum().backward(); optimizer.step()
        >>> state.restore()
        >>> torch.equal(model.weight, weight), model.weight.grad is None
        (True, True)

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        scaler: Any = None,
        device: torch.device | str | None = None,
        criterion: Any = None,
        rng: RngState | None = None,
    ) -> None:
        check_restorable(model, optimizer, criterion, device)
        self.model, self.optimizer, self.scaler, self.criterion = model, optimizer, scaler, criterion
        self.device = None if device is None else torch.device(device)
        group_tensors = [t for g in optimizer.param_groups for t in g["params"]]
        self.rng = RngState() if rng is None else rng
        live = _unique([*_module_tensors(model), *_module_tensors(criterion), *group_tensors])
        self.tensors = [_TensorCopy(t, self.device) for t in live]
        modules = [*model.modules(), *(criterion.modules() if isinstance(criterion, nn.Module) else ())]
        self.training = [(m, m.training) for m in modules]
        # which tensor objects each module holds (moving to some devices makes new Parameter objects)
        self.members = [(m, dict(m._parameters), dict(m._buffers)) for m in modules]
        self.groups = [self._group_saver(g) for g in optimizer.param_groups]
        self.param_groups = list(optimizer.param_groups)
        self.optimizer_state = [(p, _saver(s, self.device)) for p, s in optimizer.state.items()]
        self.scaler_state = copy.deepcopy(scaler.state_dict()) if scaler is not None else None

    def _group_saver(self, group: dict[str, Any]) -> Callable[[], None]:
        params, members = group["params"], list(group["params"])
        others = [(k, _saver(v, self.device)) for k, v in group.items() if k != "params"]

        def restore() -> None:
            values = {k: saved() for k, saved in others}
            params[:] = members
            group.clear()
            group["params"] = params
            group.update(values)

        return restore

    def restore(self) -> None:
        """Put everything back; the copy stays intact, so this can run again.

        Every part is attempted even when one fails; the first failure is then
        raised as a :class:`RestoreError` that carries this copy.

        Raises:
            RestoreError: a part could not be put back.

        Examples:
            >>> import torch
            >>> from cyclr.torch._state import TrainingState
            >>> model = torch.nn.Linear(2, 1)
            >>> state = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1))
            >>> model.train(False)
            Linear(in_features=2, out_features=1, bias=True)
            >>> state.restore()
            >>> model.training
            True
        """
        errors: list[BaseException] = []
        steps: list[Callable[[], None]] = [self._restore_modes, *(t.restore for t in self.tensors)]
        steps += [self._restore_optimizer, self._restore_scaler, self.rng.restore]
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - the rest must still be put back
                errors.append(exc)
        if errors:
            raise RestoreError(
                f"the range test could not restore the training state ({errors[0]!r}); "
                "the saved copy is on this exception as .snapshot, call .snapshot.restore() to retry",
                self,
            ) from errors[0]

    def _restore_modes(self) -> None:
        for module, mode in self.training:
            module.training = mode
        for module, parameters, buffers in self.members:
            for live, saved in ((module._parameters, parameters), (module._buffers, buffers)):
                if live.keys() != saved.keys() or any(live[k] is not v for k, v in saved.items()):
                    live.clear()
                    live.update(saved)

    def _restore_optimizer(self) -> None:
        for restore_group in self.groups:
            restore_group()
        self.optimizer.param_groups[:] = self.param_groups
        state = self.optimizer.state
        state.clear()
        for param, saved in self.optimizer_state:
            state[param] = saved()

    def _restore_scaler(self) -> None:
        if self.scaler is None or self.scaler_state is None:
            return
        self.scaler.load_state_dict(copy.deepcopy(self.scaler_state))
