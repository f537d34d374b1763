"""What this machine offers an engine: installed backend versions and the CUDA GPU."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


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


def import_tensorrt() -> Any:
    """Import TensorRT lazily.

    Raises
    ------
    ImportError
        With one line saying how to get TensorRT, when it is missing or its libraries are not
        loadable (the PyPI bindings wheel imports only with the vendor's libraries present).
    """
    try:
        import tensorrt
    except (ImportError, OSError) as error:
        raise ImportError(
            f"TensorRT is not available ({type(error).__name__}: {str(error).splitlines()[0]}); "
            "install it from NVIDIA's index on a CUDA machine (pip install tensorrt) or use "
            "--backend onnxruntime / --backend torch"
        ) from None
    return tensorrt


def installed_version(backend: str) -> str | None:
    """Version of the library behind ``backend``, or None when it is not importable."""
    if backend == "tensorrt":
        try:
            return str(import_tensorrt().__version__)
        except ImportError:
            return None
    try:
        module = importlib.import_module(backend)
    except ImportError:
        return None
    return str(module.__version__)


def release(version: str) -> tuple[int, ...]:
    """Numeric release part of a version string: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    numbers: list[int] = []
    for part in version.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits or digits != part:
            break
        numbers.append(int(digits))
    return tuple(numbers)
