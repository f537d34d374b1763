import json
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.model import build_generator, save_checkpoint
from tcan_live.simulate import preset
from tcan_live.simulate.dataset import write_dataset

runner = CliRunner()
REQUIRED = ("fwhm_nm_mean", "fwhm_nm_sd", "snr", "mse", "psnr", "ssim", "decorr_nm")


@pytest.fixture(scope="module")
def beads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("beads")
    write_dataset(root, "beads", count=2, size=96, seed=3)
    return root


def _evaluate(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["evaluate", *args])
    return result.exit_code, result.output


def test_lucy_richardson_baseline_on_simulated_beads(beads: Path, tmp_path: Path) -> None:
    out = tmp_path / "lr"
    code, output = _evaluate(
        "--data", str(beads), "--out", str(out), "--baseline", "lucy-richardson"
    )
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["input", "output", "hr", "lucy-richardson"]
    for name in ("input", "output", "hr"):
        assert all(metrics[name][key] is not None for key in REQUIRED), name
    assert "rse" not in metrics["input"]
    assert metrics["output"]["rsp"] > 0.8 and metrics["output"]["method"] == "lucy-richardson"
    # Deconvolution narrows the confocal beads and gets closer to the noise-free STED image.
    assert metrics["output"]["fwhm_nm_mean"] < 0.8 * metrics["input"]["fwhm_nm_mean"]
    assert metrics["output"]["psnr"] > metrics["input"]["psnr"]
    assert 220 <= metrics["input"]["fwhm_nm_mean"] <= 255
    details = json.loads((out / "details.json").read_text())
    assert details["lucy_richardson"]["chosen_by"].startswith("best PSNR")
    report = (out / "report.md").read_text()
    assert "Bead FWHM" in report and "| lucy-richardson |" in report
    for name in ("fwhm_histogram", "box_plots", "panels", "error_map"):
        pixels = matplotlib.image.imread(out / f"{name}.png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200 and np.ptp(pixels) > 0.5, name


def test_checkpoint_path_on_unpaired_data(beads: Path, tmp_path: Path) -> None:
    unpaired = tmp_path / "unpaired"
    shutil.copytree(beads / "lr", unpaired)
    checkpoint = save_checkpoint(
        tmp_path / "small.safetensors", build_generator("small"), pixel_size_nm=50.0
    )
    out = tmp_path / "ckpt"
    code, output = _evaluate(
        "--data", str(unpaired), "--out", str(out), "--checkpoint", str(checkpoint), "--beads"
    )
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["input", "output", "lucy-richardson"]
    for entry in metrics.values():
        assert "psnr" not in entry and "mse" not in entry  # no reference: reference-free only
        assert entry["snr"] is not None and "decorr_nm" in entry
    assert metrics["output"]["method"].startswith("checkpoint")
    assert "full-reference scores do not apply" in (out / "report.md").read_text()


def test_scale_two_data_with_bicubic(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    write_dataset(data, "rings", count=1, size=64, seed=0, config=preset("widefield-sim"))
    out = tmp_path / "out"
    code, output = _evaluate("--data", str(data), "--out", str(out), "--baseline", "bicubic")
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"input", "output", "hr", "lucy-richardson", "bicubic"} == set(metrics)
    assert "fwhm_nm_mean" not in metrics["input"] and metrics["bicubic"]["ssim"] > 0


def test_real_confocal_unpaired(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "real"
    code, output = _evaluate(
        "--data",
        str(shared_data),
        "--out",
        str(out),
        "--baseline",
        "lucy-richardson",
        "--max-images",
        "1",
    )
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    assert 400 < metrics["input"]["decorr_nm"] < 1000  # 0.248 um pixels, diffraction-limited
    details = json.loads((out / "details.json").read_text())
    assert details["lucy_richardson"]["chosen_by"].startswith("default")


def test_bad_invocations_say_what_is_wrong(beads: Path, tmp_path: Path) -> None:
    code, output = _evaluate(
        "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--baseline", "bicubic"
    )
    assert code == 2 and "no such data folder" in output
    code, output = _evaluate("--data", str(beads), "--out", str(tmp_path / "o"))
    assert code != 0 and "exactly one of" in output
    code, output = _evaluate(
        "--data", str(beads), "--out", str(tmp_path / "o"), "--baseline", "wiener"
    )
    assert code != 0 and "expected one of" in output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.tif").write_bytes(b"not a tiff")
    code, output = _evaluate(
        "--data", str(empty), "--out", str(tmp_path / "o"), "--baseline", "bicubic"
    )
    assert code == 2 and "x.tif" in output and "not a readable TIFF" in output
