import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tcan_live.engine.build import build_engine
from tcan_live.engine.load import load_backend
from tcan_live.engine.machine import installed_version
from tcan_live.engine.manifest import MANIFEST_NAME, EngineError, read_manifest, sha256_file
from tcan_live.engine.parity import ParityError, probe_tiles, reference_output
from tcan_live.engine.torch_eager import TorchEagerBackend
from tcan_live.model import load_checkpoint
from tests.synthetic import tiny_checkpoint

TILE = 32
HAS_TENSORRT = installed_version("tensorrt") is not None  # imports it: libraries must load
HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", scale=2)


@pytest.fixture(scope="module")
def ort_engine(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engines") / "tiny-ort"
    build_engine(checkpoint, "onnxruntime", out, tile=TILE, max_batch=3)
    return out


@pytest.fixture
def engine_copy(ort_engine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ort_engine, tmp_path / "engine"))


def _expected(checkpoint: Path) -> tuple[np.ndarray, np.ndarray]:
    tiles = probe_tiles(TILE, seed=7)
    return tiles, reference_output(load_checkpoint(checkpoint).generator, tiles)


def _load_error(folder: Path, backend: str | None = None) -> str:
    with pytest.raises(EngineError) as caught:
        load_backend(folder, backend)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_onnxruntime_engine_folder_and_manifest(ort_engine: Path, checkpoint: Path) -> None:
    assert sorted(p.name for p in ort_engine.iterdir()) == [MANIFEST_NAME, "model.onnx"]
    manifest = read_manifest(ort_engine)
    assert (manifest.backend, manifest.precision, manifest.tile) == ("onnxruntime", "fp32", TILE)
    assert manifest.halo == 8 and manifest.max_batch == 3 and manifest.scale == 2
    assert manifest.onnx_sha256 == sha256_file(ort_engine / "model.onnx")
    assert manifest.checkpoint_sha256 == sha256_file(checkpoint)
    assert manifest.pixel_size_nm == 50.0
    assert manifest.parity.max_rel_error < manifest.parity.tolerance == 1e-3


def test_onnxruntime_engine_equals_torch(ort_engine: Path, checkpoint: Path) -> None:
    backend, manifest = load_backend(ort_engine, "onnxruntime")
    tiles, expected = _expected(checkpoint)
    actual = backend.run(tiles)
    assert actual.dtype == np.float32 and actual.shape == expected.shape
    assert np.abs(actual - expected).max() / np.ptp(expected) < manifest.parity.tolerance


def test_tampered_onnx_is_refused(engine_copy: Path) -> None:
    with (engine_copy / "model.onnx").open("r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"\x00tamper!")
    message = _load_error(engine_copy)
    assert "file model.onnx does not match the manifest" in message
    assert message.endswith(
        "rebuild with: tcan-live build-engine tiny.safetensors --backend onnxruntime "
        f"--precision fp32 --tile 32 --halo 8 --max-batch 3 --out {engine_copy}"
    )


def test_missing_file_is_refused(engine_copy: Path) -> None:
    (engine_copy / "model.onnx").unlink()
    assert "file model.onnx listed in the manifest is missing" in _load_error(engine_copy)


def test_wrong_backend_is_refused(engine_copy: Path) -> None:
    message = _load_error(engine_copy, "tensorrt")
    assert "built for backend onnxruntime, not tensorrt; rebuild with:" in message


def test_unsupported_format_version_is_refused(engine_copy: Path) -> None:
    path = engine_copy / MANIFEST_NAME
    raw = json.loads(path.read_text())
    raw["format_version"] = 99
    path.write_text(json.dumps(raw))
    assert "format_version 99 is not supported" in _load_error(engine_copy)


def test_parity_refusal_writes_nothing(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "refused"
    with pytest.raises(ParityError) as caught:
        build_engine(checkpoint, "onnxruntime", out, tile=TILE, tolerance=0.0)
    message = str(caught.value)
    assert "exceeds the tolerance 0" in message and "max abs error" in message
    assert "nothing was written" in message
    assert not out.exists()


def test_refused_rebuild_keeps_the_existing_engine(engine_copy: Path, checkpoint: Path) -> None:
    before = {p.name: p.read_bytes() for p in engine_copy.iterdir()}
    with pytest.raises(ParityError):
        build_engine(checkpoint, "onnxruntime", engine_copy, tile=TILE, tolerance=0.0)
    assert {p.name: p.read_bytes() for p in engine_copy.iterdir()} == before


def test_torch_backend_on_cpu(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-torch"
    result = build_engine(checkpoint, "torch", out, tile=TILE, max_batch=2)
    assert set(result.files) == {MANIFEST_NAME, "model.onnx", "weights.safetensors"}
    weights = (out / "weights.safetensors").read_bytes()
    assert b"__torch__" not in weights and not weights.startswith(b"PK")  # no pickle
    backend, manifest = load_backend(out)
    assert isinstance(backend, TorchEagerBackend) and manifest.engine_file == "weights.safetensors"
    tiles, expected = _expected(checkpoint)
    actual = np.concatenate([backend.run(tiles[:2]), backend.run(tiles[2:])])
    assert np.abs(actual - expected).max() / np.ptp(expected) < 1e-5
    (out / "weights.safetensors").write_bytes(weights[:-4] + b"\x00\x00\x00\x00")
    assert "file weights.safetensors does not match" in _load_error(out)


def test_impossible_requests_fail_before_any_work(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    cases = [
        ({"backend": "onnxruntime", "precision": "fp16"}, "CPU engine: fp32 only"),
        ({"backend": "tensorrt", "precision": "bf16"}, "no bfloat16"),
        ({"backend": "coreml"}, "unknown backend 'coreml'"),
        ({"backend": "onnxruntime", "halo": 16}, "--halo 16"),
        ({"backend": "onnxruntime", "max_batch": 0}, "--max-batch 0"),
        ({"backend": "onnxruntime", "torch_compile": True}, "--backend torch only"),
    ]
    for arguments, message in cases:
        with pytest.raises(EngineError, match=message):
            build_engine(checkpoint, out=out, tile=TILE, **arguments)  # type: ignore[arg-type]
    assert not out.exists()


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-GPU error; this machine has a CUDA GPU")
def test_torch_half_precision_needs_a_gpu(checkpoint: Path, tmp_path: Path) -> None:
    for precision in ("fp16", "bf16"):
        with pytest.raises(EngineError, match=f"runs {precision} only on a CUDA GPU"):
            build_engine(checkpoint, "torch", tmp_path / "x", precision=precision, tile=TILE)


@pytest.mark.skipif(HAS_TENSORRT, reason="checks the missing-TensorRT error; TensorRT is here")
def test_missing_tensorrt_is_one_clear_line(
    checkpoint: Path, engine_copy: Path, tmp_path: Path
) -> None:
    with pytest.raises(EngineError) as caught:
        build_engine(checkpoint, "tensorrt", tmp_path / "trt", tile=TILE)
    message = str(caught.value)
    assert message.startswith("TensorRT is not available (")
    assert "--backend onnxruntime" in message and "\n" not in message
    assert not (tmp_path / "trt").exists()
    # A TensorRT engine folder brought to this machine is refused the same way on load.
    path = engine_copy / MANIFEST_NAME
    raw = json.loads(path.read_text())
    raw.update(
        backend="tensorrt",
        backend_version="10.13.0.35",
        engine_file="model.plan",
        engine_sha256="d" * 64,
        gpu_name="NVIDIA H100 80GB HBM3",
        compute_capability="9.0",
        tensorrt_version="10.13.0.35",
    )
    path.write_text(json.dumps(raw))
    loaded = _load_error(engine_copy)
    assert "TensorRT is not available" in loaded
    assert "rebuild with: tcan-live build-engine tiny.safetensors --backend tensorrt" in loaded


needs_tensorrt = pytest.mark.skipif(
    not (HAS_TENSORRT and HAS_CUDA), reason="needs TensorRT and a CUDA GPU"
)


@pytest.mark.tensorrt
@needs_tensorrt
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_engine_builds_and_matches(
    checkpoint: Path, tmp_path: Path, precision: str
) -> None:
    out = tmp_path / f"trt-{precision}"
    result = build_engine(checkpoint, "tensorrt", out, precision=precision, tile=TILE)  # type: ignore[arg-type]
    manifest = result.manifest
    assert {"model.plan", "timing.cache", "model.onnx"} <= set(result.files)
    assert manifest.gpu_name == torch.cuda.get_device_name(0)
    assert manifest.tensorrt_version == manifest.backend_version
    backend, _ = load_backend(out, "tensorrt")
    tiles, expected = _expected(checkpoint)
    actual = np.concatenate([backend.run(tiles[:1]), backend.run(tiles[1:])])
    assert np.abs(actual - expected).max() / np.ptp(expected) < manifest.parity.tolerance
    backend.close()
    raw = json.loads((out / MANIFEST_NAME).read_text())
    raw["gpu_name"] = "Some Other GPU"
    (out / MANIFEST_NAME).write_text(json.dumps(raw))
    assert "the plan was built for GPU Some Other GPU" in _load_error(out)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_half_precision_on_gpu(checkpoint: Path, tmp_path: Path, precision: str) -> None:
    out = tmp_path / f"torch-{precision}"
    build_engine(checkpoint, "torch", out, precision=precision, tile=TILE)  # type: ignore[arg-type]
    backend, manifest = load_backend(out)
    tiles, expected = _expected(checkpoint)
    actual = np.concatenate([backend.run(tiles[:2]), backend.run(tiles[2:])])
    assert np.abs(actual - expected).max() / np.ptp(expected) < manifest.parity.tolerance
