import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.tiff_files import read_tiff
from tcan_live.simulate import SimulationConfig, simulate_pair

runner = CliRunner()


def test_simulate_writes_matching_folders_with_pixel_sizes(tmp_path: Path) -> None:
    out = tmp_path / "beads"
    args = ["simulate", "--structure", "beads", "--count", "2", "--size", "48"]
    result = runner.invoke(app, [*args, "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {
        folder: sorted(p.name for p in (out / folder).iterdir()) for folder in ("lr", "hr", "gt")
    }
    assert names["lr"] == names["hr"] == names["gt"] == ["beads_0000.tif", "beads_0001.tif"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["structure"] == "beads" and meta["seed"] == 5 and meta["count"] == 2
    assert SimulationConfig.model_validate(meta["config"]) == SimulationConfig()
    assert all("bead_positions_px" in entry for entry in meta["images"])
    image, pixel_nm = read_tiff(out / "lr" / "beads_0001.tif")
    assert image.shape == (48, 48) and pixel_nm == pytest.approx(50.0)
    with tifffile.TiffFile(out / "hr" / "beads_0001.tif") as tif:
        assert tif.imagej_metadata is not None and tif.imagej_metadata["unit"] == "um"
        numerator, denominator = tif.pages.first.tags["XResolution"].value
        assert numerator / denominator == pytest.approx(20.0)  # pixels per um
    # Image i of seed s is the pair drawn from default_rng([s, i]): regenerable alone.
    again = simulate_pair("beads", 48, np.random.default_rng([5, 1]))
    np.testing.assert_array_equal(read_tiff(out / "gt" / "beads_0001.tif")[0], again.gt)


def test_simulate_sim_preset_and_bad_arguments(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--structure",
            "rings",
            "--count",
            "1",
            "--size",
            "32",
            "--out",
            str(out),
            "--preset",
            "widefield-sim",
        ],
    )
    assert result.exit_code == 0, result.output
    assert read_tiff(out / "lr" / "rings_0000.tif")[1] == pytest.approx(60.0)
    assert read_tiff(out / "gt" / "rings_0000.tif")[0].shape == (32, 32)
    bad = runner.invoke(app, ["simulate", "--structure", "stars", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown structure 'stars'" in bad.output
    bad = runner.invoke(
        app, ["simulate", "--structure", "beads", "--photons", "-3", "--out", str(tmp_path / "y")]
    )
    assert bad.exit_code != 0 and "photons" in bad.output
