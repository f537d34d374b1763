"""The onnxruntime CPU engine: the embedded default, runs anywhere.

It runs the fp32 ONNX only. The fp16 ONNX does run on onnxruntime's CPU provider, but measured
here it was not faster beyond the noise and it costs ~1e-3 relative error (see
docs/engines.md); fp16 is TensorRT's and the torch backend's business, on GPUs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import psutil

from tcan_live.engine.backend_kind import BackendKind
from tcan_live.engine.batch import checked_batch
from tcan_live.engine.export import INPUT_NAME
from tcan_live.engine.manifest import EngineError

if TYPE_CHECKING:
    import onnxruntime

    from tcan_live.engine.manifest import EngineManifest

ENGINE_FILE = "model.onnx"


def cpu_threads() -> int:
    """Physical cores: a second hyper-thread per core only contends for the same FPUs."""
    return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def session_options(threads: int | None = None) -> onnxruntime.SessionOptions:
    """Session options tuned for batched convolution tiles on CPU (measured, see README).

    Full graph optimisation (fuses Conv + activation, folds the DFT matrix constants),
    sequential execution (the graph is one chain; parallelism comes from intra-op threads),
    memory patterns off (on, they pre-plan every buffer of a batch: paper preset, four 256 px
    tiles, peak RSS 2.7 GB against 1.6 GB off, with no measurable speed difference), and no
    spinning of idle worker threads, which would steal the acquisition's and the preview's CPU
    between frames.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = False
    options.enable_cpu_mem_arena = True
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: the graph optimiser's notes are noise here
    return options


class OnnxRuntimeBackend:
    """Runs an fp32 ONNX engine with onnxruntime's CPU execution provider.

    Parameters
    ----------
    model
        The ONNX model bytes (already verified against the manifest's hash).
    tile, scale, max_batch
        Tile size, scale factor and largest batch, as recorded in the manifest.
    threads
        Intra-op threads; physical cores by default.
    """

    def __init__(
        self, model: bytes, tile: int, scale: int, max_batch: int, threads: int | None = None
    ) -> None:
        import onnxruntime

        self.tile = tile
        self.scale = scale
        self.max_batch = max_batch
        try:
            self._session: onnxruntime.InferenceSession | None = onnxruntime.InferenceSession(
                model, session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own types (InvalidProtobuf, Fail)
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise EngineError(f"onnxruntime cannot load the model ({reason})") from None
        inputs = self._session.get_inputs()
        self._input_name = inputs[0].name if len(inputs) == 1 else INPUT_NAME

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """Super-resolve float32 tiles (N, 1, tile, tile)."""
        if self._session is None:
            raise RuntimeError("onnxruntime engine used after close()")
        batch = checked_batch(tiles, self.tile, self.max_batch)
        # Our exports name the input INPUT_NAME; an imported network keeps its own name.
        (output,) = self._session.run(None, {self._input_name: batch})
        return np.asarray(output, dtype=np.float32)

    def close(self) -> None:
        """Drop the session (its memory arena goes with it)."""
        self._session = None


def open_backend(
    model: bytes, manifest: EngineManifest, threads: int | None = None
) -> OnnxRuntimeBackend:
    """Open the verified engine bytes of an onnxruntime manifest (``threads``: intra-op)."""
    return OnnxRuntimeBackend(model, manifest.tile, manifest.scale, manifest.max_batch, threads)


KIND = BackendKind(
    name="onnxruntime",
    engine_file=ENGINE_FILE,
    precisions=("fp32",),
    open=open_backend,
    library="onnxruntime",
    why_not="the onnxruntime engine is a CPU engine: fp32 only (fp16 measured no faster there)",
    onnx_parity_is_engine=True,
)
