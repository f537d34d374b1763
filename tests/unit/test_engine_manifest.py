import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tcan_live.engine.load import device_mismatch, version_mismatch
from tcan_live.engine.machine import CudaDevice, release
from tcan_live.engine.manifest import (
    MANIFEST_NAME,
    EngineError,
    EngineManifest,
    ParityFigures,
    read_manifest,
    write_manifest,
)
from tcan_live.model import NormalizationSpec, generator_config

SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


def manifest(**changes: Any) -> EngineManifest:
    parity = ParityFigures(
        max_abs_error=1e-7, max_rel_error=2e-6, tolerance=1e-3, probe="probe", device="cpu"
    )
    fields: dict[str, Any] = {
        "model_name": "tcan",
        "preset": "small",
        "architecture": generator_config("small", 2),
        "scale": 2,
        "pixel_size_nm": 50.0,
        "normalization": NormalizationSpec(low_percentile=2.0),
        "tile": 256,
        "halo": 32,
        "max_batch": 4,
        "precision": "fp32",
        "backend": "onnxruntime",
        "backend_version": "1.31.1",
        "onnx_file": "model.onnx",
        "onnx_sha256": SHA_A,
        "onnx_opset": 17,
        "onnx_precision": "fp32",
        "engine_file": "model.onnx",
        "engine_sha256": SHA_A,
        "checkpoint_name": "model.safetensors",
        "checkpoint_sha256": SHA_C,
        "checkpoint_path": "/data/model.safetensors",
        "parity": parity,
        "onnx_parity": parity,
        "created": datetime(2026, 11, 21, tzinfo=UTC),
        "tcan_live_version": "0.1.0",
    }
    return EngineManifest(**{**fields, **changes})


def tensorrt_manifest(**changes: Any) -> EngineManifest:
    return manifest(
        backend="tensorrt",
        backend_version="10.13.0.35",
        precision="fp16",
        onnx_precision="fp16",
        engine_file="model.plan",
        engine_sha256=SHA_B,
        gpu_name="NVIDIA H100 80GB HBM3",
        compute_capability="9.0",
        tensorrt_version="10.13.0.35",
        **changes,
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    original = tensorrt_manifest()
    write_manifest(tmp_path, original)
    assert read_manifest(tmp_path) == original
    raw = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert raw["architecture"]["preset"] == "small" and raw["normalization"]["low_percentile"] == 2


def test_rebuild_command_names_every_choice() -> None:
    command = tensorrt_manifest().rebuild_command("engines/x")
    assert command == (
        "tcan-live build-engine model.safetensors --backend tensorrt --precision fp16 "
        "--tile 256 --halo 32 --max-batch 4 --out engines/x"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scale": 1}, "differs from architecture.scale"),
        ({"halo": 128}, "leaves no tile interior"),
        ({"min_batch": 5}, "exceeds max_batch"),
        ({"engine_sha256": SHA_B}, "sha256 differ"),
        ({"onnx_file": "../escape.onnx"}, "String should match pattern"),
        ({"backend": "tensorrt", "engine_file": "model.plan"}, "needs gpu_name"),
    ],
)
def test_inconsistent_manifest_is_refused_with_its_field(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    raw = json.loads(manifest().model_dump_json())
    raw.update(changes)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(EngineError, match=message) as caught:
        read_manifest(tmp_path)
    assert "\n" not in str(caught.value)


def test_unsupported_format_version_is_one_line(tmp_path: Path) -> None:
    raw = json.loads(manifest().model_dump_json())
    raw["format_version"] = 2
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(EngineError, match="format_version 2 is not supported") as caught:
        read_manifest(tmp_path)
    assert "\n" not in str(caught.value)


def test_missing_and_broken_manifest(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no engine manifest"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(EngineError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_tensorrt_plan_is_tied_to_its_gpu() -> None:
    plan = tensorrt_manifest()
    assert device_mismatch(plan, CudaDevice("NVIDIA H100 80GB HBM3", "9.0")) is None
    other = device_mismatch(plan, CudaDevice("NVIDIA A100-SXM4-80GB", "8.0"))
    assert other == (
        "the plan was built for GPU NVIDIA H100 80GB HBM3 (compute capability 9.0); this "
        "machine has NVIDIA A100-SXM4-80GB (compute capability 8.0)"
    )
    same_name = device_mismatch(plan, CudaDevice("NVIDIA H100 80GB HBM3", "9.1"))
    assert same_name is not None and "compute capability 9.1" in same_name
    assert device_mismatch(plan, None) == ("the tensorrt fp16 engine needs a CUDA GPU; none found")


def test_gpu_requirements_of_other_backends() -> None:
    assert device_mismatch(manifest(), None) is None
    torch_fp16 = manifest(backend="torch", precision="fp16", engine_file="weights.safetensors")
    assert device_mismatch(torch_fp16, None) == "the torch fp16 engine needs a CUDA GPU; none found"
    assert device_mismatch(torch_fp16, CudaDevice("any", "8.6")) is None


def test_backend_version_rules() -> None:
    plan = tensorrt_manifest()
    assert version_mismatch(plan, "10.13.0.35") is None
    assert version_mismatch(plan, "10.13.2.6") == (
        "the plan was built with tensorrt 10.13.0.35; this machine has TensorRT 10.13.2.6"
    )
    assert version_mismatch(plan, None) == (
        "the engine needs tensorrt 10.13.0.35, which is not installed"
    )
    onnx = manifest()
    assert version_mismatch(onnx, "1.31.1") is None
    assert version_mismatch(onnx, "1.32.0") is None  # newer onnxruntime reads older ONNX
    assert version_mismatch(onnx, "1.30.2") == (
        "the engine was built and verified with onnxruntime 1.31.1; this machine has 1.30.2"
    )


def test_release_parses_local_versions() -> None:
    assert release("2.13.0+cpu") == (2, 13, 0)
    assert release("10.13.0.35") == (10, 13, 0, 35)
    assert release("1.32.0rc1") == (1, 32)
