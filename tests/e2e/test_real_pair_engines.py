"""The real-pair engines reproduce their model cards on their held-out fields.

The held-out fields are read from the path in the engine's training configuration
(``../shared/data/real-pairs/...`` beside the checkout); without them the test skips.
"""

import json
from pathlib import Path

import pytest

from tcan_live_training.config import load_train_config
from tcan_live_training.ship import REGRESSION_KEYS, evaluate_real_pairs

REPO = Path(__file__).resolve().parents[2]
ENGINES = REPO / "engines"
REAL = sorted(
    path.name
    for path in ENGINES.iterdir()
    if (path / "model_card.json").is_file()
    and "real_pairs" in json.loads((path / "model_card.json").read_text())["held_out"]
)


@pytest.mark.parametrize("name", REAL)
def test_real_pair_engine_reproduces_its_card(name: str, tmp_path: Path) -> None:
    card = json.loads((ENGINES / name / "model_card.json").read_text())
    config = REPO / card["held_out"]["real_pairs"]
    data = load_train_config(config).data.path
    assert data is not None
    if not data.is_dir():
        pytest.skip(f"real pairs not found at {data} (only present in the project workspace)")
    metrics = evaluate_real_pairs(ENGINES / name, config, tmp_path / "evaluation")
    expected = card["regression"]["output"]
    for key in REGRESSION_KEYS:
        if expected.get(key) is None:
            continue
        assert metrics["output"][key] == pytest.approx(
            expected[key], rel=card["regression"]["tolerance"]
        ), key
