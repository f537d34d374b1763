from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from tcan_live.engine.export import check_attention_float32, export_onnx
from tcan_live.engine.manifest import EngineError
from tcan_live.engine.ort_backend import OnnxRuntimeBackend
from tcan_live.engine.parity import probe_tiles, reference_output
from tcan_live.model import TCANGenerator, build_generator
from tests.synthetic import tiny_generator

TILE = 32


def _with_fft_twin(generator: TCANGenerator) -> TCANGenerator:
    reference = TCANGenerator(generator.config, spectrum="fft")
    reference.load_state_dict(generator.state_dict())
    return reference.eval()


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.ptp(expected))


@pytest.mark.parametrize("preset", ["small", "paper"])
@pytest.mark.parametrize("scale", [1, 2])
def test_onnx_matches_torch_fft_model(tmp_path: Path, preset: str, scale: int) -> None:
    generator = build_generator(preset, scale, spectrum="matmul").eval()
    path = tmp_path / "model.onnx"
    export_onnx(generator, path, TILE)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    # Batch 3 and 1 differ from the traced batch of 2: the batch axis must be dynamic.
    tiles = probe_tiles(TILE)
    expected = reference_output(_with_fft_twin(generator), tiles)
    engine = OnnxRuntimeBackend(path.read_bytes(), TILE, scale, max_batch=3)
    together = engine.run(tiles)
    one_by_one = np.concatenate([engine.run(tiles[i : i + 1]) for i in range(3)])
    assert together.shape == (3, 1, scale * TILE, scale * TILE)
    assert _relative_error(together, expected) < 1e-4
    assert _relative_error(one_by_one, expected) < 1e-4


def test_fp16_graph_keeps_the_attention_gate_in_float32(tmp_path: Path) -> None:
    generator = tiny_generator(2, spectrum="matmul").eval()
    path = tmp_path / "model16.onnx"
    model = export_onnx(generator, path, TILE, precision="fp16")
    assert check_attention_float32(model) > 10
    graph = model.graph
    assert graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT  # float32 I/O
    conv_weights = [i for i in graph.initializer if i.data_type == TensorProto.FLOAT16]
    assert conv_weights, "the fp16 graph should store fp16 weights"
    tiles = probe_tiles(TILE)
    expected = reference_output(_with_fft_twin(generator), tiles)
    engine = OnnxRuntimeBackend(path.read_bytes(), TILE, 2, max_batch=3)
    error = _relative_error(engine.run(tiles), expected)
    assert 1e-6 < error < 3e-2  # fp16 rounding is visible but small


def test_attention_check_catches_an_fp16_gate() -> None:
    node = helper.make_node("MatMul", ["x", "m"], ["y"], name="/dfcan/attention/spectrum/MatMul")
    graph = helper.make_graph(
        [node],
        "gate",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 4]),
            helper.make_tensor_value_info("m", TensorProto.FLOAT16, [4, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(EngineError, match="computes in FLOAT16, not FLOAT"):
        check_attention_float32(model)


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    matmul = tiny_generator(1, spectrum="matmul")
    with pytest.raises(EngineError, match="expected a multiple of 16"):
        export_onnx(matmul, tmp_path / "m.onnx", 40)
    with pytest.raises(EngineError, match="no bfloat16"):
        export_onnx(matmul, tmp_path / "m.onnx", TILE, precision="bf16")
    with pytest.raises(EngineError, match="matmul spectrum"):
        export_onnx(tiny_generator(1), tmp_path / "m.onnx", TILE)
    assert not (tmp_path / "m.onnx").exists()


def test_onnxruntime_engine_checks_its_input(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    export_onnx(tiny_generator(1, spectrum="matmul"), path, TILE)
    engine = OnnxRuntimeBackend(path.read_bytes(), TILE, 1, max_batch=2)
    with pytest.raises(ValueError, match=r"expected \(N, 1, 32, 32\)"):
        engine.run(np.zeros((1, 1, 16, 16), np.float32))
    with pytest.raises(ValueError, match="expected 1 to 2 tiles"):
        engine.run(np.zeros((3, 1, TILE, TILE), np.float32))
    engine.close()
    with pytest.raises(RuntimeError, match="after close"):
        engine.run(np.zeros((1, 1, TILE, TILE), np.float32))


def test_export_leaves_the_generator_untouched(tmp_path: Path) -> None:
    generator = tiny_generator(1, spectrum="matmul").eval()
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    export_onnx(generator, tmp_path / "m.onnx", TILE, precision="fp16")
    after = generator.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].dtype == torch.float32 for k in after)
