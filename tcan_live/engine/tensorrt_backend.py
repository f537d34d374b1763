"""The TensorRT engine: a plan built on the target GPU from the ONNX, run on CUDA memory.

TensorRT is imported lazily; without it (or without a CUDA GPU) every entry point fails with one
line saying so. A plan is tied to the GPU model and the TensorRT version that built it, which the
manifest records and :func:`tcan_live.engine.load.load_backend` checks.

Precision: fp32 is built with TF32 switched off (TF32 rounds convolution inputs to 10 mantissa
bits, outside the fp32 parity tolerance). fp16 is built from the fp16 ONNX, whose spectral
attention gate is typed float32, as a strongly typed network: always so on TensorRT >= 11 (which
removed ``BuilderFlag.FP16``) and via ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` on 10.x.
The weakly typed ``BuilderFlag.FP16`` is deliberately not used on 10.x either: it lets TensorRT
pick fp16 kernels for the gate too, where the spectrum's DC term overflows fp16.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tcan_live.engine.backend_kind import BackendKind, BuildInputs
from tcan_live.engine.batch import checked_batch
from tcan_live.engine.export import INPUT_NAME, OUTPUT_NAME
from tcan_live.engine.machine import CudaDevice, cuda_device, release
from tcan_live.engine.manifest import EngineError, Precision

if TYPE_CHECKING:
    from tcan_live.engine.manifest import EngineManifest

ENGINE_FILE = "model.plan"
TIMING_CACHE_FILE = "timing.cache"
MIN_TENSORRT = (10,)


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


def require_tensorrt() -> tuple[Any, CudaDevice]:
    """Import TensorRT and find the GPU, or raise :class:`EngineError` with one line."""
    try:
        trt = import_tensorrt()
    except ImportError as error:
        raise EngineError(str(error)) from None
    version = str(trt.__version__)
    if release(version)[:1] < MIN_TENSORRT:
        raise EngineError(f"TensorRT {version} is too old: tcan-live needs TensorRT 10 or newer")
    device = cuda_device()
    if device is None:
        raise EngineError(
            "TensorRT needs a CUDA GPU and torch sees none (torch.cuda.is_available() is False); "
            "use --backend onnxruntime on this machine"
        )
    return trt, device


def network_flags(trt: Any, precision: Precision) -> int:
    """Network creation flags: explicit batch is the default from 10.x on.

    fp16 needs a strongly typed network so the ONNX's float32 attention gate stays float32;
    TensorRT 11 is always strongly typed and takes no flag for it.
    """
    if precision == "fp32" or release(str(trt.__version__))[:1] >= (11,):
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def build_plan(
    onnx_model: bytes, tile: int, max_batch: int, precision: Precision, timing_cache: Path
) -> bytes:
    """Build a serialized TensorRT plan from ONNX bytes on this machine's GPU.

    Parameters
    ----------
    onnx_model
        The exported ONNX (fp32, or fp16 with a float32 gate for ``precision="fp16"``).
    tile, max_batch
        The optimisation profile covers batches 1..max_batch of (1, tile, tile) tiles,
        tuned for max_batch (the runtime fills batches up to it).
    precision
        ``"fp32"`` or ``"fp16"``.
    timing_cache
        Timing cache file, read when present and rewritten after the build, so rebuilding on
        the same GPU skips the kernel timing.
    """
    trt, _ = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt, precision))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_model):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT could not parse the ONNX: {errors}")
    config = builder.create_builder_config()
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    profile = builder.create_optimization_profile()
    smallest, largest = (1, 1, tile, tile), (max_batch, 1, tile, tile)
    profile.set_shape(INPUT_NAME, smallest, largest, largest)
    config.add_optimization_profile(profile)
    cached = timing_cache.read_bytes() if timing_cache.is_file() else b""
    cache = config.create_timing_cache(cached)
    # A cache from another GPU or TensorRT version is not used (ignore_mismatch=False).
    config.set_timing_cache(cache, False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError("TensorRT failed to build the engine (see its log above)")
    timing_cache.write_bytes(bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(plan))


class TensorRTBackend:
    """Runs a TensorRT plan with ``execute_async_v3`` on torch-allocated CUDA buffers.

    Parameters
    ----------
    plan
        Serialized plan bytes (already verified against the manifest's hash).
    tile, scale, max_batch
        As recorded in the manifest; the plan's profile covers batches 1..max_batch.
    """

    def __init__(self, plan: bytes, tile: int, scale: int, max_batch: int) -> None:
        import torch

        trt, _ = require_tensorrt()
        self.tile = tile
        self.scale = scale
        self.max_batch = max_batch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise EngineError("TensorRT could not deserialize the plan (see its log above)")
        names = {self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)}
        if names != {INPUT_NAME, OUTPUT_NAME}:
            raise EngineError(f"plan tensors {sorted(names)}: expected {INPUT_NAME}, {OUTPUT_NAME}")
        self._context = self._engine.create_execution_context()
        self._stream = torch.cuda.Stream()  # type: ignore[no-untyped-call]
        out = scale * tile
        self._input = torch.empty((max_batch, 1, tile, tile), dtype=torch.float32, device="cuda")
        self._output = torch.empty((max_batch, 1, out, out), dtype=torch.float32, device="cuda")

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """Super-resolve float32 tiles (N, 1, tile, tile) on the GPU."""
        import torch

        if self._context is None:
            raise RuntimeError("TensorRT engine used after close()")
        batch = checked_batch(tiles, self.tile, self.max_batch)
        count = batch.shape[0]
        # Leading-axis slices of contiguous buffers are contiguous: safe raw addresses.
        inputs, outputs = self._input[:count], self._output[:count]
        with torch.cuda.stream(self._stream):
            inputs.copy_(torch.from_numpy(batch))
            self._context.set_input_shape(INPUT_NAME, tuple(inputs.shape))
            self._context.set_tensor_address(INPUT_NAME, inputs.data_ptr())
            self._context.set_tensor_address(OUTPUT_NAME, outputs.data_ptr())
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed (see its log above)")
            result = outputs.cpu()
        self._stream.synchronize()
        return result.numpy()

    def close(self) -> None:
        """Free the execution context, engine and CUDA buffers."""
        self._context = None
        self._engine = None
        self._input = self._output = None  # type: ignore[assignment]


def open_backend(
    plan: bytes, manifest: EngineManifest, threads: int | None = None
) -> TensorRTBackend:
    """Open the verified plan bytes of a tensorrt manifest (on the GPU: ``threads`` unused)."""
    return TensorRTBackend(plan, manifest.tile, manifest.scale, manifest.max_batch)


def _unavailable() -> str | None:
    try:
        import_tensorrt()
    except ImportError as error:
        return str(error)
    return None


def _preflight(precision: Precision) -> str:
    _, device = require_tensorrt()
    return f"cuda: {device.name}"


def _plan_bytes(inputs: BuildInputs) -> bytes:
    cache = inputs.staging / TIMING_CACHE_FILE
    previous = inputs.previous / TIMING_CACHE_FILE
    if previous.is_file():
        shutil.copyfile(previous, cache)
    return build_plan(inputs.onnx_model, inputs.tile, inputs.max_batch, inputs.precision, cache)


def _same_precision(precision: Precision) -> Precision:
    return precision


def _always(precision: Precision) -> bool:
    return True


KIND = BackendKind(
    name="tensorrt",
    engine_file=ENGINE_FILE,
    precisions=("fp32", "fp16"),
    open=open_backend,
    library="tensorrt",
    why_not="TensorRT engines are built from ONNX, which has no bfloat16 convolution before "
    "opset 22",
    preflight=_preflight,
    engine_bytes=_plan_bytes,
    onnx_precision=_same_precision,
    needs_gpu=_always,
    tied_to_gpu=True,
    unavailable=_unavailable,
)
