"""ONNX export of a generator at a fixed tile size with a dynamic batch axis.

The graph uses the matmul spectrum (ONNX before opset 17 has no DFT, TensorRT 10 none at all)
and the legacy TorchScript exporter, which exports this network in seconds where the dynamo
exporter takes minutes. Tile height and width are fixed (the spectrum's DFT matrices are sized
for them); only the batch axis is dynamic.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn
from torch.jit import TracerWarning  # type: ignore[attr-defined]

from tcan_live.engine.manifest import EngineError, Precision
from tcan_live.model import TCANGenerator

ONNX_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"
# Nodes under this module scope form the spectral attention gate, which must stay float32.
ATTENTION_SCOPE = "/attention/"

_TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


class _Float32IO(nn.Module):
    """Runs a reduced-precision generator behind float32 inputs and outputs.

    The engine contract (:class:`~tcan_live.runtime.backend.InferenceBackend`) is float32 tiles
    in and out whatever the precision inside, so the casts belong to the graph.
    """

    def __init__(self, generator: TCANGenerator, dtype: torch.dtype) -> None:
        super().__init__()
        self.generator = generator.to(dtype)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cast in, run, cast out."""
        return self.generator(x.to(self.dtype)).float()


def check_tile(generator: TCANGenerator, tile: int) -> None:
    """Refuse tile sizes the network would have to pad inside the engine."""
    multiple = generator.config.size_multiple
    if tile < 16 or tile % multiple:
        raise EngineError(f"--tile {tile}: expected a multiple of {multiple} of at least 16")


def export_onnx(
    generator: TCANGenerator, path: Path, tile: int, precision: Precision = "fp32"
) -> onnx.ModelProto:
    """Export ``generator`` to ``path`` and check the result with ``onnx.checker``.

    Parameters
    ----------
    generator
        A generator built with ``spectrum="matmul"`` (it is not modified).
    path
        Destination ``.onnx`` file.
    tile
        Fixed tile height and width; a multiple of the U-net's size multiple.
    precision
        ``"fp32"``, or ``"fp16"`` for a strongly typed fp16 graph (float32 inputs/outputs,
        spectral attention gate in float32) for TensorRT.

    Returns
    -------
    onnx.ModelProto
        The checked model as written.
    """
    if generator.spectrum_kind != "matmul":
        raise EngineError("ONNX export needs the matmul spectrum (build_generator(spectrum=...))")
    if precision not in _TORCH_DTYPES:
        raise EngineError(
            f"--precision {precision}: no ONNX export (ONNX Conv before opset 22 has no "
            "bfloat16); use fp32 or fp16, or the torch backend for bf16"
        )
    check_tile(generator, tile)
    model: nn.Module = copy.deepcopy(generator).eval()
    if precision != "fp32":
        model = _Float32IO(model, _TORCH_DTYPES[precision]).eval()  # type: ignore[arg-type]
    # Batch 2, not 1: a traced batch of 1 can hide shape code that would pin the batch axis.
    example = torch.rand(2, 1, tile, tile)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # torch >= 2.9 flags the TorchScript exporter and its internals as deprecated; it is
        # chosen on purpose (see the module docstring).
        warnings.filterwarnings(
            "ignore", message="You are using the legacy TorchScript", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx\.")
        # The tracer warns that shapes (tile size, channel counts) and the DFT matrices become
        # constants: that is the intent. Only the batch axis is dynamic, and the parity check
        # runs batch sizes other than the traced one.
        warnings.filterwarnings("ignore", category=TracerWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
        )
    exported = onnx.load(str(path))
    try:
        onnx.checker.check_model(exported, full_check=True)
    except onnx.checker.ValidationError as error:
        raise EngineError(f"{path}: onnx.checker refused the export: {error}") from None
    if precision != "fp32" and "dfcan" in generator.config.branches:
        check_attention_float32(exported)
    return exported


def check_attention_float32(model: onnx.ModelProto) -> int:
    """Verify every computing node of the attention gates outputs float32 (or int64 indices).

    Returns the number of nodes checked; raises :class:`EngineError` naming the first node
    that computes in another type (the spectrum's DC bin overflows fp16).
    """
    inferred = onnx.shape_inference.infer_shapes(model)
    elem_types = {
        info.name: info.type.tensor_type.elem_type
        for info in [*inferred.graph.value_info, *inferred.graph.output]
    }
    checked = 0
    for node in inferred.graph.node:
        # Casts are the gate's way in (features -> fp32) and out (gate -> features' dtype).
        if ATTENTION_SCOPE not in node.name or node.op_type in ("Cast", "Constant"):
            continue
        for output in node.output:
            elem_type = elem_types.get(output)
            # INT64: shape and gather-index arithmetic of the spectrum's reshapes, not pixels.
            if elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64):
                found = (
                    "unknown" if elem_type is None else onnx.TensorProto.DataType.Name(elem_type)
                )
                raise EngineError(f"attention node {node.name} computes in {found}, not FLOAT")
        checked += 1
    if not checked:
        raise EngineError("no attention nodes found in the exported graph (scope names changed?)")
    return checked
