"""The OpenVINO backend and engines compiled for several tile sizes, on a tiny model."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.engine.build import build_engine
from tcan_live.engine.load import load_backend, load_engine
from tcan_live.engine.loaded_engine import Engine
from tcan_live.engine.manifest import MANIFEST_NAME, EngineError, per_pixel_costs, read_manifest
from tcan_live.engine.openvino_backend import OpenVinoBackend, cpu_has_bf16
from tcan_live.engine.registry import cpu_default_backend
from tcan_live.engine.tile_sizes import TileSizesBackend
from tcan_live.runtime.tiling import TilePlan
from tests.synthetic import tiny_checkpoint

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(11)
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", scale=1)


@pytest.fixture(scope="module")
def ov_engine(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engines") / "tiny-ov"
    build_engine(checkpoint, "openvino", out, precision="fp32", tile=(32, 80), halo=8, max_batch=3)
    return out


@pytest.fixture(scope="module")
def ort_engine(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engines") / "tiny-ort"
    build_engine(checkpoint, "onnxruntime", out, tile=32, halo=8, max_batch=3)
    return out


def _frame(size: int) -> np.ndarray:
    return (np.random.default_rng(size).random((size, size)) * 3000 + 100).astype(np.uint16)


def test_openvino_is_the_cpu_default() -> None:
    assert cpu_default_backend() == "openvino"


def test_multi_tile_openvino_engine_files_and_manifest(ov_engine: Path) -> None:
    names = sorted(p.name for p in ov_engine.iterdir())
    assert names == [MANIFEST_NAME, "model-t80.onnx", "model.onnx"]
    manifest = read_manifest(ov_engine)
    assert manifest.backend == "openvino" and manifest.tile_sizes == (32, 80)
    (extra,) = manifest.extra_tiles
    assert extra.onnx_file == extra.engine_file == "model-t80.onnx"
    for figures in (manifest.parity, extra.parity):
        assert figures.device == "cpu (openvino f32)" and figures.max_rel_error < 1e-5
    assert manifest.flops_per_pixel and extra.flops_per_pixel
    assert extra.flops_per_pixel > manifest.flops_per_pixel  # the matmul spectrum grows
    assert "--tile 32 --tile 80" in manifest.rebuild_command(ov_engine)


def test_each_frame_gets_its_tile_and_matches_torch_tiled_alike(
    ov_engine: Path, checkpoint: Path
) -> None:
    engine = load_engine(ov_engine)
    assert isinstance(engine.backend, TileSizesBackend)
    assert engine.backend.tile_sizes == (32, 80)
    try:
        enhancer = engine.enhancer()
        # 64 px: one 80 tile (1.56x) beats sixteen 32 tiles (4x) at any measured cost here;
        # 16 px: one 32 tile (4x) beats one 80 tile (25x).
        assert enhancer._prepare(_frame(64), 50.0).plan.tile == 80
        assert enhancer._prepare(_frame(16), 50.0).plan.tile == 32
        for size, tile in ((16, 32), (64, 80)):
            frame = _frame(size)
            reference = Engine.from_checkpoint(checkpoint, tile=tile, halo=8)
            try:
                ref = reference.enhance(frame, 50.0).image
            finally:
                reference.close()
            out = engine.enhance(frame, 50.0).image
            assert np.abs(out - ref).max() <= 1e-5 * np.ptp(ref)
        both = enhancer.enhance_many([(_frame(64), 50.0), (_frame(16), 50.0)])
        assert [r.image.shape for r in both] == [(64, 64), (16, 16)]
    finally:
        engine.close()


def test_the_build_times_each_tile_size_and_the_choice_uses_the_times(ov_engine: Path) -> None:
    manifest = read_manifest(ov_engine)
    (extra,) = manifest.extra_tiles
    assert manifest.seconds_per_pixel and extra.seconds_per_pixel
    assert manifest.tile_costs == {32: manifest.seconds_per_pixel, 80: extra.seconds_per_pixel}
    engine = load_engine(ov_engine)
    assert engine.tile_costs == manifest.tile_costs
    engine.close()


def test_tile_costs_fall_back_to_flops_then_to_none() -> None:
    assert per_pixel_costs((32, 80), (2e-8, 1e-8), (5.0, 9.0)) == {32: 2e-8, 80: 1e-8}
    assert per_pixel_costs((32, 80), (2e-8, None), (5.0, 9.0)) == {32: 5.0, 80: 9.0}
    assert per_pixel_costs((32, 80), (None, None), (5.0, None)) is None


def test_single_tile_openvino_equals_onnxruntime(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "ov32"
    build_engine(checkpoint, "openvino", out, precision="fp32", tile=32, halo=8, max_batch=3)
    engine, reference = load_engine(out), load_engine(out)
    backend, _ = load_backend(out)
    assert isinstance(backend, OpenVinoBackend)
    backend.close()
    frame = _frame(70)
    ort = build_engine(checkpoint, "onnxruntime", tmp_path / "ort32", tile=32, halo=8)
    reference = load_engine(ort.folder)
    out_ov = engine.enhance(frame, 50.0).image
    out_ort = reference.enhance(frame, 50.0).image
    assert np.abs(out_ov - out_ort).max() <= 1e-5 * np.ptp(out_ort)
    with pytest.raises(RuntimeError, match="after close"):
        engine.close()
        engine.backend.run(np.zeros((1, 1, 32, 32), np.float32))


def test_a_tampered_extra_tile_is_refused(ov_engine: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(ov_engine, tmp_path / "engine"))
    with (copy / "model-t80.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(EngineError, match=r"model-t80.onnx does not match.*--tile 32 --tile 80"):
        load_backend(copy)


def test_a_rebuild_with_fewer_tiles_drops_the_old_extra_files(
    checkpoint: Path, ov_engine: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(ov_engine, tmp_path / "engine"))
    build_engine(checkpoint, "onnxruntime", copy, tile=32, halo=8)
    assert sorted(p.name for p in copy.iterdir()) == [MANIFEST_NAME, "model.onnx"]


def test_manifests_without_tile_sizes_still_load(ort_engine: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(ort_engine, tmp_path / "engine"))
    document = json.loads((copy / MANIFEST_NAME).read_text())
    del document["extra_tiles"], document["flops_per_pixel"]
    (copy / MANIFEST_NAME).write_text(json.dumps(document))
    engine = load_engine(copy)
    assert engine.tile_sizes == (32,) and engine.tile_costs is None
    assert engine.enhance(_frame(40), 50.0).image.shape == (40, 40)
    engine.close()


def test_bf16_follows_the_cpu(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "bf16"
    if not cpu_has_bf16():
        with pytest.raises(EngineError, match="native bfloat16") as caught:
            build_engine(checkpoint, "openvino", out, precision="bf16", tile=32, halo=8)
        assert "\n" not in str(caught.value) and not out.exists()
        return
    built = build_engine(checkpoint, "openvino", out, precision="bf16", tile=32, halo=8)
    assert built.manifest.parity.max_rel_error <= built.manifest.parity.tolerance


def test_halo_overhead_of_the_plans() -> None:
    assert TilePlan.for_frame((64, 64), 80, 8, 1).overhead == pytest.approx(1.5625)


def test_build_engine_defaults_to_openvino_tiles_320_576_halo_32_bf16_where_native(
    checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "default"
    result = CliRunner().invoke(app, ["build-engine", str(checkpoint), "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    precision = "bf16" if cpu_has_bf16() else "fp32"
    assert (manifest.backend, manifest.precision) == ("openvino", precision)
    assert (manifest.tile_sizes, manifest.halo) == ((320, 576), 32)
    assert manifest.parity.max_rel_error <= manifest.parity.tolerance
    assert manifest.extra_tiles[0].parity.max_rel_error <= manifest.parity.tolerance
    assert f"openvino {precision} engine: tile 320 / 576, halo 32" in result.output
    assert f"> precision: {precision} (this CPU " in result.output  # and why


def test_without_an_out_folder_the_name_says_the_precision_built(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command = ["build-engine", str(checkpoint), "--backend", "onnxruntime", "--tile", "32"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path / "engines" / "tiny-onnxruntime-fp32-32").precision == "fp32"
