"""A zoo package of a network that is not TCAN (a tiny U-net the test exports) runs through
``tcan-live build-engine`` and ``tcan-live watch --once``; unsupported packages get one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import zarr
from typer.testing import CliRunner

from tcan_live.bioimageio.export import scale_range
from tcan_live.bioimageio.quiet import closing_leaks
from tcan_live.cli.main import app
from tcan_live.core.tiff_files import write_tiff
from tcan_live.engine.manifest import read_manifest
from tests.helpers.daemon import journal_counts
from tests.helpers.zoo import HIGH, LOW, PIXEL_UM, unet_description, unet_package

runner = CliRunner()
FRAMES, SIDE = 3, 48


def test_a_foreign_unet_package_runs_through_watch_once(tmp_path: Path) -> None:
    package = unet_package(tmp_path / "zoo")
    engine = tmp_path / "engines" / "unet"
    built = runner.invoke(app, ["build-engine", str(package), "--tile", "64", "--out", str(engine)])
    assert built.exit_code == 0, built.output
    manifest = read_manifest(engine)
    assert manifest.architecture is None and manifest.imported_from is not None
    assert manifest.imported_from.name == "tiny U-net denoiser"
    assert (manifest.tile, manifest.halo, manifest.scale) == (64, 6, 1)
    assert manifest.pixel_size_nm == pytest.approx(PIXEL_UM * 1000)
    assert (manifest.normalization.low_percentile, manifest.normalization.high_percentile) == (
        LOW,
        HIGH,
    )
    assert manifest.parity.max_rel_error <= manifest.parity.tolerance

    folder = tmp_path / "acquisition"
    rng = np.random.default_rng(9)
    frames = [rng.integers(100, 3000, (SIDE, SIDE)).astype(np.uint16) for _ in range(FRAMES)]
    for t, frame in enumerate(frames):
        write_tiff(folder / f"t{t}.tif", frame, PIXEL_UM * 1000)
    out = tmp_path / "unet.zarr"
    command = ["watch", str(folder), "--out", str(out), "--engine", str(engine), "--once"]
    result = runner.invoke(app, [*command, "--channel", "dna", "--no-dashboard"])
    assert result.exit_code == 0, result.output
    assert journal_counts(out, "sr") == {(t, "dna"): 1 for t in range(FRAMES)}
    sr = np.asarray(zarr.open_array(out / "sr" / "0" / "0", mode="r"))
    # The network on the percentile-normalised frame, mapped back by the same percentiles.
    session = onnxruntime.InferenceSession((engine / "model.onnx").read_bytes())
    for t, frame in enumerate(frames):
        low, high = np.percentile(frame.astype(np.float32), [LOW, HIGH])
        normalised = scale_range(frame.astype(np.float32)[None, None], manifest.normalization)
        (network,) = session.run(None, {"image": normalised})
        expected = network[0, 0] * (high - low) + low
        inner = (slice(8, -8), slice(8, -8))  # tile borders are padded differently
        np.testing.assert_allclose(sr[t, 0, 0][inner], expected[inner], rtol=0, atol=0.02 * high)


def _unsupported_cases(folder: Path) -> dict[str, tuple[dict[str, Any], str]]:
    from bioimageio.spec.model.v0_5 import (
        AxisId,
        FileDescr,
        KerasHdf5WeightsDescr,
        SizeReference,
        SpaceInputAxis,
        SpaceOutputAxis,
        TensorId,
        WeightsDescr,
        ZeroMeanUnitVarianceDescr,
        ZeroMeanUnitVarianceKwargs,
    )

    base = unet_description(folder / "base")
    source, target = base.inputs[0], base.outputs[0]
    (folder / "w.h5").write_bytes(b"keras weights")
    rng = np.random.default_rng(0)
    for name in ("in5", "out5"):
        np.save(folder / f"{name}.npy", rng.random((1, 1, 4, SIDE, SIDE), np.float32))
    z_in = SpaceInputAxis(id=AxisId("z"), size=4, unit="micrometer", scale=0.5)
    z_ref = SizeReference(tensor_id=TensorId("image"), axis_id=AxisId("z"))
    z_out = SpaceOutputAxis(id=AxisId("z"), size=z_ref, unit="micrometer", scale=0.5)
    zmuv = ZeroMeanUnitVarianceDescr(
        kwargs=ZeroMeanUnitVarianceKwargs(axes=[AxisId("y"), AxisId("x")])
    )
    keras = KerasHdf5WeightsDescr(source=folder / "w.h5", tensorflow_version="2.15")
    return {
        "3d": (
            {
                "inputs": [
                    source.model_copy(
                        update={
                            "axes": [*source.axes[:2], z_in, *source.axes[2:]],
                            "test_tensor": FileDescr(source=folder / "in5.npy"),
                        }
                    )
                ],
                "outputs": [
                    target.model_copy(
                        update={
                            "axes": [*target.axes[:2], z_out, *target.axes[2:]],
                            "test_tensor": FileDescr(source=folder / "out5.npy"),
                        }
                    )
                ],
            },
            "input image has a space axis z: tcan-live runs 2D (y, x) models, not 3D",
        ),
        "two-inputs": (
            {"inputs": [source, source.model_copy(update={"id": TensorId("mask")})]},
            "2 inputs: tcan-live runs image-to-image models, one in, one out",
        ),
        "keras": (
            {"weights": WeightsDescr(keras_hdf5=keras)},
            "weights keras_hdf5: tcan-live needs onnx, or a pytorch_state_dict of the TCAN",
        ),
        "zero-mean": (
            {"inputs": [source.model_copy(update={"preprocessing": [zmuv]})]},
            "preprocessing zero_mean_unit_variance: tcan-live normalises by per-frame",
        ),
    }


def test_unsupported_packages_get_one_line_saying_what_is_missing(tmp_path: Path) -> None:
    with closing_leaks():  # bioimageio.spec's descriptions hold files open until freed
        _check_unsupported(tmp_path)


def _check_unsupported(tmp_path: Path) -> None:
    for name, (changes, message) in _unsupported_cases(tmp_path).items():
        package = unet_package(tmp_path / name, **changes)
        out = tmp_path / name / "engine"
        result = runner.invoke(app, ["build-engine", str(package), "--out", str(out)])
        assert result.exit_code == 2, (name, result.output)
        lines = [line for line in result.output.splitlines() if line.startswith("error")]
        assert len(lines) == 1 and message in lines[0], (name, result.output)
        assert not (out / "manifest.json").exists()


def test_a_missing_or_broken_package_is_named(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["build-engine", str(tmp_path / "none.zip"), "--out", "x"])
    assert missing.exit_code == 2 and "none.zip: no such BioImage.IO package" in missing.output
    (tmp_path / "rdf.yaml").write_text("type: model\nformat_version: 0.5.4\nname: x\n")
    broken = runner.invoke(app, ["build-engine", str(tmp_path / "rdf.yaml"), "--out", "x"])
    assert broken.exit_code == 2 and "invalid BioImage.IO model description" in broken.output
