"""Resumable training state as safetensors tensors plus JSON (never pickle).

The discriminator's weights, both Adam optimisers' moments and step counts and the torch RNG
state are stored as named tensors in the checkpoint's extra tensors; the optimisers' parameter
groups (learning rates, betas, flags) and any non-tensor state as JSON. Restoring them into
freshly built models and optimisers reproduces the run bit for bit on CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_DISCRIMINATOR = "discriminator."
_RNG_CPU = "rng.torch_cpu"
_RNG_CUDA = "rng.torch_cuda."


def module_tensors(module: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """Return the state dict of ``module`` with keys prefixed."""
    return {prefix + name: value for name, value in module.state_dict().items()}


def load_module_tensors(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str) -> bool:
    """Load the tensors under ``prefix`` into ``module``; False if there are none.

    Raises
    ------
    RuntimeError
        If tensors are present but do not fit the module.
    """
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        return False
    module.load_state_dict(state, strict=True)
    return True


def optimizer_state(
    optimizer: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state dict into tensors and a JSON-serialisable rest."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    other: dict[str, dict[str, Any]] = {}
    for param_id, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}{param_id}.{key}"] = value
            else:
                other.setdefault(str(param_id), {})[key] = value
    groups = [
        {key: list(value) if isinstance(value, tuple) else value for key, value in group.items()}
        for group in state_dict["param_groups"]
    ]
    return tensors, {"param_groups": groups, "state": other}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    prefix: str,
) -> None:
    """Rebuild and load a state dict written by :func:`optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix):
            param_id, key = name.removeprefix(prefix).split(".", 1)
            state.setdefault(int(param_id), {})[key] = value
    for param_id, entries in meta["state"].items():
        state.setdefault(int(param_id), {}).update(entries)
    groups = [
        {key: tuple(value) if key == "betas" else value for key, value in group.items()}
        for group in meta["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_tensors() -> dict[str, torch.Tensor]:
    """Return the torch CPU (and CUDA, when present) random generator states."""
    tensors = {_RNG_CPU: torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, value in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"{_RNG_CUDA}{index}"] = value
    return tensors


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    """Restore the states saved by :func:`rng_tensors`."""
    if _RNG_CPU in tensors:
        torch.set_rng_state(tensors[_RNG_CPU].cpu())
    cuda = sorted(k for k in tensors if k.startswith(_RNG_CUDA))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k].cpu() for k in cuda])


__all__ = [
    "load_module_tensors",
    "load_optimizer_state",
    "module_tensors",
    "optimizer_state",
    "restore_rng",
    "rng_tensors",
]
