"""tcan-live infer and tcan_live.load_engine on a real onnxruntime engine built in the test."""

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from typer.testing import CliRunner

import tcan_live
from tcan_live.cli.main import app
from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
from tests.synthetic import filament_image, tiny_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "infer.safetensors")


@pytest.fixture(scope="module")
def engine_dir(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engines") / "tiny-ort"
    command = ["build-engine", str(checkpoint), "--backend", "onnxruntime", "--tile", "32"]
    result = runner.invoke(app, [*command, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_load_engine_api(engine_dir: Path) -> None:
    engine = tcan_live.load_engine(engine_dir)
    assert engine.manifest["scale"] == 1 and engine.manifest["pixel_size_nm"] == 50.0
    frame = (filament_image((40, 56), 100.0) * 3000).astype(np.uint16)
    result = engine.enhance(frame, pixel_size_nm=100.0)
    assert result.pixel_size_nm == 50.0 and result.image.shape == (80, 112)
    engine.close()
    # A share of the cores (tcan-live batch runs one engine per worker process).
    limited = tcan_live.load_engine(engine_dir, threads=1)
    options = limited.backend._session.get_session_options()  # type: ignore[attr-defined]
    assert options.intra_op_num_threads == 1
    np.testing.assert_array_equal(limited.enhance(frame, 100.0).image, result.image)
    limited.close()


def test_infer_stack_writes_pixel_size(engine_dir: Path, tmp_path: Path) -> None:
    stack = np.stack([filament_image((40, 48), 100.0, seed=s) * 900 for s in range(3)])
    source = write_tiff(tmp_path / "in.tif", stack.astype(np.uint16)[:, None], 100.0)
    out = tmp_path / "out.tif"
    result = runner.invoke(
        app, ["infer", str(source), "--engine", str(engine_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    frames, pixel = read_tiff_stack(out)
    assert frames.shape == (3, 80, 96) and pixel == pytest.approx(50.0)
    with tifffile.TiffFile(out) as tif:  # an independent reader sees the calibration too
        assert tif.imagej_metadata is not None and tif.imagej_metadata["unit"] == "um"


def test_infer_override_checkpoint_and_failures(checkpoint: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, (filament_image((32, 32), 50.0) * 500).astype(np.uint16))
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00garbage")
    out = tmp_path / "results"
    result = runner.invoke(
        app, ["infer", str(plain), str(broken), "--checkpoint", str(checkpoint), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "no pixel size in the metadata; pass --pixel-size" in result.output
    assert "broken.tif" in result.output and "not a readable TIFF" in result.output
    options = ["--out", str(out), "--pixel-size", "50", "--dtype", "uint16"]
    result = runner.invoke(app, ["infer", str(plain), "--checkpoint", str(checkpoint), *options])
    assert result.exit_code == 0, result.output
    frames, pixel = read_tiff_stack(out / "plain_sr.tif")
    assert frames.dtype == np.uint16 and frames.shape == (1, 32, 32) and pixel == 50.0


def test_infer_needs_one_engine(tmp_path: Path) -> None:
    result = runner.invoke(app, ["infer", str(tmp_path / "x.tif"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "exactly one of an engine folder" in result.output
