"""The OpenVINO CPU engine: the checked ONNX compiled by OpenVINO, fp32 or bf16.

The engine file is the ONNX itself (OpenVINO reads it directly and compiles it at load, a few
seconds), so an OpenVINO engine holds the same verified bytes as an onnxruntime one. fp32 keeps
fp32 arithmetic (``INFERENCE_PRECISION_HINT f32``: OpenVINO would otherwise pick bf16 by itself
on CPUs that have it); bf16 runs convolutions and matrix products in bfloat16 and is offered
only on CPUs with native bf16 instructions (AVX512-BF16 or AMX), where it is faster; elsewhere
OpenVINO would emulate it. OpenVINO is imported lazily: without it every entry point fails with
one line saying how to install it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tcan_live.engine.backend_kind import BackendKind
from tcan_live.engine.batch import checked_batch
from tcan_live.engine.manifest import EngineError, Precision
from tcan_live.engine.ort_backend import ENGINE_FILE, cpu_threads

if TYPE_CHECKING:
    from tcan_live.engine.manifest import EngineManifest

# OpenVINO's names for the precisions it is asked to compute in.
_HINTS: dict[str, str] = {"fp32": "f32", "bf16": "bf16"}


def import_openvino() -> Any:
    """Import OpenVINO lazily.

    Raises
    ------
    ImportError
        With one line saying how to get it, when it is missing or its libraries do not load.
    """
    try:
        import openvino
    except (ImportError, OSError) as error:
        raise ImportError(
            f"OpenVINO is not available ({type(error).__name__}: {str(error).splitlines()[0]}); "
            "install it (pip install openvino) or use --backend onnxruntime"
        ) from None
    return openvino


def cpu_has_bf16() -> bool:
    """Whether OpenVINO finds native bfloat16 arithmetic on this CPU."""
    capabilities = import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in {str(c).upper() for c in capabilities}


class OpenVinoBackend:
    """Runs an ONNX engine compiled by OpenVINO for the CPU.

    Parameters
    ----------
    model
        The ONNX model bytes (already verified against the manifest's hash).
    tile, scale, max_batch
        Tile size, scale factor and largest batch, as recorded in the manifest.
    precision
        ``fp32`` or ``bf16``: the inference precision OpenVINO is told to use.
    threads
        Inference threads; physical cores by default.
    """

    def __init__(
        self,
        model: bytes,
        tile: int,
        scale: int,
        max_batch: int,
        precision: Precision = "fp32",
        threads: int | None = None,
    ) -> None:
        openvino = import_openvino()
        self.tile = tile
        self.scale = scale
        self.max_batch = max_batch
        core = openvino.Core()
        config = {
            "INFERENCE_PRECISION_HINT": _HINTS[precision],
            # One stream of one request at a time: the enhancer sends batches one by one.
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads or cpu_threads(),
        }
        try:
            network = core.read_model(model=model, weights=openvino.Tensor(np.empty(0, np.uint8)))
            self._request: Any = core.compile_model(network, "CPU", config).create_infer_request()
        except RuntimeError as error:  # OpenVINO raises RuntimeError for bad or unsupported models
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "RuntimeError"
            raise EngineError(f"OpenVINO cannot load the model ({reason})") from None

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """Super-resolve float32 tiles (N, 1, tile, tile)."""
        if self._request is None:
            raise RuntimeError("OpenVINO engine used after close()")
        batch = checked_batch(tiles, self.tile, self.max_batch)
        self._request.infer({0: batch})
        # The output tensor is the request's own buffer, reused by the next batch: copy it.
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)

    def close(self) -> None:
        """Drop the compiled model and its request."""
        self._request = None


def open_backend(
    model: bytes, manifest: EngineManifest, threads: int | None = None
) -> OpenVinoBackend:
    """Open the verified ONNX bytes of an openvino manifest (``threads``: inference threads)."""
    return OpenVinoBackend(
        model, manifest.tile, manifest.scale, manifest.max_batch, manifest.precision, threads
    )


def _unavailable() -> str | None:
    try:
        import_openvino()
    except ImportError as error:
        return str(error)
    return None


def _preflight(precision: Precision) -> str:
    try:
        bf16 = cpu_has_bf16()
    except ImportError as error:
        raise EngineError(str(error)) from None
    if precision == "bf16" and not bf16:
        raise EngineError(
            "--precision bf16 needs a CPU with native bfloat16 (AVX512-BF16 or AMX) and OpenVINO "
            "finds none here; use --precision fp32"
        )
    return f"cpu (openvino {_HINTS[precision]})"


def _default_precision() -> tuple[Precision, str]:
    # bf16 costs no measurable quality here (docs/engines.md: PSNR within 0.003 dB of fp32 on
    # held-out frames) and is 1.4-1.5x faster where the CPU computes it natively.
    try:
        native = cpu_has_bf16()
    except ImportError:
        native = False  # the build's own check then says OpenVINO is missing
    if native:
        return "bf16", "this CPU computes bfloat16 natively; --precision fp32 for exact fp32"
    return "fp32", "this CPU has no native bfloat16"


KIND = BackendKind(
    name="openvino",
    engine_file=ENGINE_FILE,
    precisions=("fp32", "bf16"),
    open=open_backend,
    library="openvino",
    why_not="the OpenVINO engine is a CPU engine: fp32, or bf16 on CPUs with native bfloat16",
    preflight=_preflight,
    unavailable=_unavailable,
    default_precision=_default_precision,
)
