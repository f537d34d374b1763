"""The shipped default engines load from a fresh clone and reproduce their model cards."""

import json
from pathlib import Path

import pytest

import tcan_live
from tcan_live_training.heldout import HeldOutSpec
from tcan_live_training.ship import REGRESSION_KEYS, acceptance, evaluate_engine

ENGINES = Path(__file__).resolve().parents[2] / "engines"
SHIPPED = ("microtubules-small", "actin-small", "beads-small")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_engine_reproduces_its_model_card(name: str, tmp_path: Path) -> None:
    folder = ENGINES / name
    assert (folder / "MODEL_CARD.md").is_file(), f"{folder}: no MODEL_CARD.md"
    card = json.loads((folder / "model_card.json").read_text())
    engine = tcan_live.load_engine(folder)  # verifies the manifest and file hashes
    assert engine.manifest["pixel_size_nm"] == 50.0 and engine.manifest["scale"] == 1
    engine.close()
    regression = card["regression"]
    spec = HeldOutSpec(**regression["spec"])
    metrics = evaluate_engine(folder, spec, tmp_path / "evaluation")
    # issue 5's acceptance, recomputed on this second held-out set (not read from the card)
    checks = acceptance(metrics)
    failed = [(target, figures) for target, passed, figures in checks if passed is False]
    assert not failed, failed
    measured = metrics["output"]
    for key in REGRESSION_KEYS:
        expected = regression["output"][key]
        if expected is None:
            assert measured.get(key) is None, key
            continue
        assert measured[key] == pytest.approx(expected, rel=regression["tolerance"]), key


def test_demo_with_the_shipped_engines_sharpens_and_denoises(tmp_path: Path) -> None:
    import numpy as np
    import zarr
    from typer.testing import CliRunner

    from tcan_live.cli.main import app
    from tcan_live.metrics.snr import regions_from, snr

    out = tmp_path / "demo"
    options = ["--frames", "2", "--size", "128", "--no-preview", "--no-dashboard"]
    result = CliRunner().invoke(app, ["demo", *options, "--out", str(out)])
    assert result.exit_code == 0, result.output
    store = out / "demo.zarr"
    raw = np.asarray(zarr.open_array(store / "raw" / "0" / "0", mode="r"), dtype=np.float64)
    sr = np.asarray(zarr.open_array(store / "sr" / "0" / "0", mode="r"), dtype=np.float64)
    assert raw.shape == sr.shape == (2, 2, 1, 128, 128)
    for t in range(2):
        for c in range(2):
            # Denoised: the papers' SNR, signal and background regions taken from the raw frame.
            regions = regions_from(raw[t, c, 0])
            assert snr(sr[t, c, 0], regions) > 1.5 * snr(raw[t, c, 0], regions)
            assert np.corrcoef(raw[t, c, 0].ravel(), sr[t, c, 0].ravel())[0, 1] > 0.7


def test_demo_defaults_to_the_shipped_engines_from_any_directory() -> None:
    from tcan_live.cli.demo import SHIPPED_ENGINES
    from tcan_live.daemon.demo import demo_engines

    assert Path(__file__).resolve().parents[2] / "engines" == SHIPPED_ENGINES
    assert set(demo_engines(SHIPPED_ENGINES).values()) == {
        SHIPPED_ENGINES / "microtubules-small",
        SHIPPED_ENGINES / "actin-small",
    }
