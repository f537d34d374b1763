"""The three engine kinds: which file each loads, which precisions it offers, how to open it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tcan_live.engine import ort_backend, tensorrt_backend, torch_backend
from tcan_live.engine.backend import InferenceBackend
from tcan_live.engine.manifest import BackendName, EngineError, EngineManifest, Precision


@dataclass(frozen=True)
class BackendKind:
    """How one backend stores and opens its engine."""

    name: BackendName
    engine_file: str
    precisions: tuple[Precision, ...]
    open: Callable[[bytes, EngineManifest], InferenceBackend]
    why_not: str  # said when a precision outside ``precisions`` is asked for


KINDS: dict[str, BackendKind] = {
    "onnxruntime": BackendKind(
        "onnxruntime",
        ort_backend.ENGINE_FILE,
        ("fp32",),
        ort_backend.open_backend,
        "the onnxruntime engine is the CPU engine: fp32 only (fp16 measured no faster there)",
    ),
    "tensorrt": BackendKind(
        "tensorrt",
        tensorrt_backend.ENGINE_FILE,
        ("fp32", "fp16"),
        tensorrt_backend.open_backend,
        "TensorRT engines are built from ONNX, which has no bfloat16 convolution before opset 22",
    ),
    "torch": BackendKind(
        "torch",
        torch_backend.ENGINE_FILE,
        ("fp32", "fp16", "bf16"),
        torch_backend.open_backend,
        "",
    ),
}


def backend_kind(backend: str, precision: str) -> BackendKind:
    """Return the kind named ``backend`` after checking it offers ``precision``."""
    if backend not in KINDS:
        raise EngineError(f"unknown backend {backend!r}; expected one of {', '.join(KINDS)}")
    kind = KINDS[backend]
    if precision not in kind.precisions:
        raise EngineError(
            f"--precision {precision} is not available with --backend {backend}: {kind.why_not}"
        )
    return kind
