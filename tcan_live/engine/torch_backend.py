"""The torch engine, for GPUs without TensorRT: safetensors weights, rebuilt at load.

No pickle anywhere: the engine file holds only the generator's tensors, the architecture comes
from the manifest, and the network is rebuilt from :mod:`tcan_live.model` (the torch.fft
spectrum, which cuFFT runs well; the matmul spectrum when compiled). fp16/bf16 need CUDA; fp32
runs on CUDA when present, else on the CPU. ``torch_compile`` compiles the module in place on
first use (minutes on a 2-core CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from tcan_live.engine.backend_kind import BackendKind, BuildInputs
from tcan_live.engine.manifest import EngineError, Precision
from tcan_live.engine.torch_eager import TorchEagerBackend
from tcan_live.model import GeneratorConfig, TCANGenerator
from tcan_live.model.generator import generator_with_weights

if TYPE_CHECKING:
    from tcan_live.engine.manifest import EngineManifest

ENGINE_FILE = "weights.safetensors"
TORCH_DTYPES: dict[Precision, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}


def weights_bytes(generator: TCANGenerator) -> bytes:
    """Return the generator's state dict as safetensors bytes (float32, CPU)."""
    state = {k: v.detach().float().cpu().contiguous() for k, v in generator.state_dict().items()}
    return save_safetensors(state)


def torch_device(precision: Precision) -> torch.device:
    """CUDA when present; the CPU only for fp32 (no fast fp16/bf16 convolutions there)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if precision != "fp32":
        raise EngineError(
            f"the torch backend runs {precision} only on a CUDA GPU and torch sees none; "
            "use --precision fp32 here"
        )
    return torch.device("cpu")


def open_torch_backend(
    weights: bytes,
    architecture: GeneratorConfig,
    tile: int,
    max_batch: int,
    precision: Precision,
    compile_model: bool = False,
) -> TorchEagerBackend:
    """Rebuild the generator from ``weights`` and wrap it as an engine.

    Parameters
    ----------
    weights
        safetensors bytes written by :func:`weights_bytes` (verified against the manifest).
    architecture
        The generator's configuration from the manifest.
    tile, max_batch
        As recorded in the manifest.
    precision
        ``fp32`` (CPU or CUDA), ``fp16`` or ``bf16`` (CUDA).
    compile_model
        Compile the module with ``torch.compile`` (first batch takes tens of seconds).
    """
    device = torch_device(precision)
    try:
        state = load_safetensors(weights)
    except SafetensorError as error:
        raise EngineError(f"engine weights are not valid safetensors: {error}") from None
    # Inductor generates no code for complex tensors (it falls back to eager around torch.fft),
    # so a compiled model takes the real matmul spectrum: same numbers, one fused graph.
    try:
        generator = generator_with_weights(
            architecture, state, "matmul" if compile_model else "fft"
        )
    except ValueError as error:
        raise EngineError(f"engine {error} (the manifest's)") from None
    if compile_model:
        generator.compile()
    return TorchEagerBackend(
        generator, tile, max_batch=max_batch, device=device, dtype=TORCH_DTYPES[precision]
    )


def open_backend(
    weights: bytes, manifest: EngineManifest, threads: int | None = None
) -> TorchEagerBackend:
    """Open the verified weights of a torch manifest.

    ``threads`` sets torch's intra-op threads when the engine runs on the CPU; torch has one
    thread pool per process, so this applies to everything torch runs in the process.
    """
    if manifest.architecture is None:
        raise EngineError(
            "the torch backend rebuilds a TCAN generator: this imported engine has none "
            "(build it with --backend onnxruntime)"
        )
    if threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(threads)
    return open_torch_backend(
        weights,
        manifest.architecture,
        manifest.tile,
        manifest.max_batch,
        manifest.precision,
        manifest.torch_compile,
    )


def _preflight(precision: Precision) -> str:
    return str(torch_device(precision))


def _weights(inputs: BuildInputs) -> bytes:
    return weights_bytes(inputs.generator)


def _below_fp32(precision: Precision) -> bool:
    return precision != "fp32"


KIND = BackendKind(
    name="torch",
    engine_file=ENGINE_FILE,
    precisions=("fp32", "fp16", "bf16"),
    open=open_backend,
    library="torch",
    preflight=_preflight,
    engine_bytes=_weights,
    needs_gpu=_below_fp32,
    compiles=True,
)
