"""``tcan-live export-bioimageio``: packages checked by bioimageio.spec and bioimageio.core, and
imported back with ``tcan-live build-engine``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tcan_live.bioimageio.quiet import closing_leaks
from tcan_live.cli.main import app
from tcan_live.engine.load import load_engine
from tcan_live.engine.manifest import read_manifest
from tcan_live.engine.parity import filament_image
from tests.conftest import REPO_ROOT
from tests.helpers.daemon import build_tiny_engine

runner = CliRunner()
ENGINES = REPO_ROOT / "engines"


def export(engine: Path, out: Path) -> Path:
    result = runner.invoke(app, ["export-bioimageio", str(engine), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{out}: " in result.output
    return out


def check_package(engine: Path, package: Path) -> None:
    """bioimageio.spec validates it; bioimageio.core's test runs both weights on it."""
    with closing_leaks():  # bioimageio's descriptions hold files open until freed
        _check_package(engine, package)


def _check_package(engine: Path, package: Path) -> None:
    from bioimageio.core import test_model
    from bioimageio.spec import load_description
    from bioimageio.spec.model.v0_5 import ModelDescr

    description = load_description(package, perform_io_checks=True)
    assert isinstance(description, ModelDescr), description.validation_summary.format()
    assert description.validation_summary.status in ("valid-format", "passed")
    manifest = read_manifest(engine)
    axes = {str(axis.id): axis for axis in description.inputs[0].axes}
    assert (axes["y"].unit, axes["y"].scale, axes["y"].size) == (
        "nanometer",
        manifest.pixel_size_nm,
        manifest.tile,
    )
    halos = [getattr(axis, "halo", None) for axis in description.outputs[0].axes]
    assert halos[-2:] == [manifest.halo * manifest.scale] * 2
    (scale_range,) = [p for p in description.inputs[0].preprocessing if p.id == "scale_range"]
    assert (scale_range.kwargs.min_percentile, scale_range.kwargs.max_percentile) == (
        manifest.normalization.low_percentile,
        manifest.normalization.high_percentile,
    )
    assert description.weights.onnx is not None and description.weights.pytorch_state_dict
    dois = {str(entry.doi) for entry in description.cite}
    assert dois == {"10.1186/s43074-022-00077-x", "10.1038/s41592-020-01048-5"}
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        readme = archive.read("README.md").decode()
    assert {"rdf.yaml", "weights.onnx", "weights.pt", "cover.png", "test_input.npy"} <= names
    assert f"# {manifest.model_name}" in readme  # the model card is the documentation
    summary = test_model(package)
    assert summary.status == "passed", summary.format()


def test_exported_shipped_engine_passes_spec_and_core(tmp_path: Path) -> None:
    engine = ENGINES / "microtubules-small"
    check_package(engine, export(engine, tmp_path / "microtubules.zip"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["actin-small", "beads-small"])
def test_every_shipped_engine_passes_spec_and_core(name: str, tmp_path: Path) -> None:
    check_package(ENGINES / name, export(ENGINES / name, tmp_path / f"{name}.zip"))


def enhanced(engine: Path, frame: np.ndarray) -> np.ndarray:
    loaded = load_engine(engine, threads=1)
    try:
        return loaded.enhance(frame, 50.0).image
    finally:
        loaded.close()


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / (b.max() - b.min()))


def test_reimport_of_an_export_reproduces_the_engine(tmp_path: Path) -> None:
    original = ENGINES / "microtubules-small"
    package = export(original, tmp_path / "mt.zip")
    result = runner.invoke(app, ["build-engine", str(package), "--out", str(tmp_path / "back")])
    assert result.exit_code == 0, result.output
    back = read_manifest(tmp_path / "back")
    ours = read_manifest(original)
    assert back.architecture == ours.architecture and back.normalization == ours.normalization
    assert (back.tile, back.halo, back.scale, back.pixel_size_nm) == (320, 32, 1, 50.0)
    assert back.imported_from is not None and back.imported_from.weights == "onnx"
    frame = (100 + 3000 * filament_image(200, np.random.default_rng(4))).astype(np.float32)
    error = relative_difference(enhanced(tmp_path / "back", frame), enhanced(original, frame))
    print(f"re-import of {original.name}: max relative difference {error:.3g}")
    assert error <= ours.parity.tolerance


def test_the_state_dict_route_rebuilds_through_the_regular_build(tmp_path: Path) -> None:
    tiny = build_tiny_engine(tmp_path / "tiny", seed=3)
    package = export(tiny, tmp_path / "tiny.zip")
    command = ["build-engine", str(package), "--backend", "torch", "--out", str(tmp_path / "t")]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["backend"] == "torch"
    assert manifest["imported_from"]["weights"] == "pytorch_state_dict"
    frame = (100 + 3000 * filament_image(40, np.random.default_rng(5))).astype(np.float32)
    error = relative_difference(enhanced(tmp_path / "t", frame), enhanced(tiny, frame))
    assert error <= read_manifest(tiny).parity.tolerance
