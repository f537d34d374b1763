"""What defines an engine backend: its files, precisions, machine needs and how it opens.

A backend is one module (the backend class and a :class:`BackendKind`) and one entry in
:mod:`tcan_live.engine.registry`; building, loading, the manifest and the benchmarks learn
everything else from the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tcan_live.engine.machine import installed_version

if TYPE_CHECKING:
    from tcan_live.engine.manifest import EngineManifest, Precision
    from tcan_live.model import TCANGenerator
    from tcan_live.runtime.backend import InferenceBackend


@dataclass(frozen=True)
class BuildInputs:
    """What a backend's engine file is made from during ``build_engine``.

    Attributes
    ----------
    onnx_model
        The exported ONNX, already checked for parity.
    generator
        The torch generator (matmul spectrum) with the checkpoint's weights.
    staging
        Private folder for files made on the way (e.g. a timing cache).
    previous
        The target engine folder, which may hold a previous build's reusable files.
    tile, max_batch, precision
        What the engine is built for.
    """

    onnx_model: bytes
    generator: TCANGenerator
    staging: Path
    previous: Path
    tile: int
    max_batch: int
    precision: Precision


def _onnx_is_the_engine(inputs: BuildInputs) -> bytes:
    return inputs.onnx_model


def _runs_on_cpu(precision: Precision) -> str:
    return "cpu"


def _fp32_onnx(precision: Precision) -> Precision:
    return "fp32"


def _no_gpu(precision: Precision) -> bool:
    return False


def _usable() -> str | None:
    return None


def _fp32_by_default() -> tuple[Precision, str]:
    return "fp32", "the backend's default"


@dataclass(frozen=True)
class BackendKind:
    """One engine backend.

    Attributes
    ----------
    name
        The ``--backend`` value and the manifest's ``backend``.
    engine_file
        The file the backend loads from the engine folder.
    precisions
        The precisions it can build.
    open
        Opens verified engine bytes with their manifest and the CPU threads the backend may
        use (None: the machine's physical cores; GPU backends ignore it).
    library
        The Python module whose version the manifest records (``installed_version``).
    why_not
        Said when a precision outside ``precisions`` is asked for.
    preflight
        Checks before any work that this machine can build ``precision``; returns the device
        the engine will run on (raises ``EngineError`` with one line otherwise).
    engine_bytes
        Makes the engine file's bytes (default: the ONNX itself).
    onnx_precision
        Precision of the ONNX exported for ``precision`` (default: always fp32).
    needs_gpu
        Whether an engine of ``precision`` runs only on a CUDA GPU.
    tied_to_gpu
        The engine runs only on the GPU model and library version that built it (a TensorRT
        plan); the manifest records both and loading checks them exactly.
    onnx_parity_is_engine
        The engine is the ONNX run by onnxruntime, so the build's ONNX parity check is the
        engine's (no second check).
    compiles
        The backend accepts ``--torch-compile``.
    unavailable
        Why the library cannot be used on this machine (one line), or None when it can; by
        default a library that does not import is reported by the version check.
    default_precision
        The precision built when none is asked for on this machine, and why (a few words).
    """

    name: str
    engine_file: str
    precisions: tuple[Precision, ...]
    open: Callable[[bytes, EngineManifest, int | None], InferenceBackend]
    library: str
    why_not: str = ""
    preflight: Callable[[Precision], str] = _runs_on_cpu
    engine_bytes: Callable[[BuildInputs], bytes] = _onnx_is_the_engine
    onnx_precision: Callable[[Precision], Precision] = _fp32_onnx
    needs_gpu: Callable[[Precision], bool] = _no_gpu
    tied_to_gpu: bool = False
    onnx_parity_is_engine: bool = False
    compiles: bool = False
    unavailable: Callable[[], str | None] = _usable
    default_precision: Callable[[], tuple[Precision, str]] = _fp32_by_default

    def installed_version(self) -> str | None:
        """Version of the backend's library on this machine, or None when it cannot be used."""
        return installed_version(self.library)
