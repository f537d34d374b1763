"""What this machine offers an engine: installed backend versions and the CUDA GPU."""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class CudaDevice:
    """The CUDA GPU torch sees as device 0."""

    name: str
    compute_capability: str  # "major.minor", e.g. "9.0" for H100


def cuda_device() -> CudaDevice | None:
    """Return the first CUDA GPU, or None when torch sees no GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return CudaDevice(torch.cuda.get_device_name(0), f"{major}.{minor}")


def installed_version(library: str) -> str | None:
    """Version of the Python library ``library``, or None when it cannot be imported.

    An import that fails because the library's native parts are missing (``OSError``, e.g. the
    PyPI TensorRT bindings without NVIDIA's libraries) counts as not installed.
    """
    try:
        module = importlib.import_module(library)
    except (ImportError, OSError):
        return None
    return str(getattr(module, "__version__", "unknown"))


def release(version: str) -> tuple[int, ...]:
    """Numeric release part of a version string: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    numbers: list[int] = []
    for part in version.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits or digits != part:
            break
        numbers.append(int(digits))
    return tuple(numbers)
