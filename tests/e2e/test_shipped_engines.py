"""The shipped default engines load from a fresh clone and reproduce their model cards."""

import json
from pathlib import Path

import pytest

import tcan_live
from training.ship import REGRESSION_KEYS, HeldOutSpec, evaluate_engine

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
    measured = evaluate_engine(folder, spec, tmp_path / "evaluation")["output"]
    for key in REGRESSION_KEYS:
        expected = regression["output"][key]
        if expected is None:
            assert measured.get(key) is None, key
            continue
        assert measured[key] == pytest.approx(expected, rel=regression["tolerance"]), key
