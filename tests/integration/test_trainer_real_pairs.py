"""The real-pair training path on the shared confocal/STED pairs (skips without ../shared)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tcan_live.model import read_checkpoint_meta
from tcan_live_training.config import parse_train_config
from tcan_live_training.realpairs import write_heldout_pairs
from tcan_live_training.trainer import train
from tests.conftest import SHARED_DIR

REPO = Path(__file__).resolve().parents[2]
TINY: dict[str, Any] = tomllib.loads((REPO / "config" / "train" / "tiny.toml").read_text())
SHIPPED: dict[str, Any] = tomllib.loads(
    (REPO / "config" / "train" / "microtubules-sted.toml").read_text()
)
PAIRS = SHARED_DIR / "data" / "real-pairs" / "microtubules-sted"


@pytest.fixture
def real_pairs() -> Path:
    if not PAIRS.is_dir():
        pytest.skip(f"real pairs not found at {PAIRS} (only present in the project workspace)")
    return PAIRS


def _tiny_real_config() -> Any:
    raw = copy.deepcopy(TINY)
    raw["data"] = {**SHIPPED["data"], "path": str(PAIRS), "patch_size": 32}
    raw["data"]["validation_size"] = 32
    raw["loss"] = {**raw["loss"], "physics_weight": 1.0}
    raw["training"] = {**raw["training"], "epochs": 1, "steps_per_epoch": 2}
    return parse_train_config(raw)


def test_training_on_the_real_pairs_keeps_the_held_out_field_apart(
    real_pairs: Path, tmp_path: Path
) -> None:
    config = _tiny_real_config()
    train(config, tmp_path, progress=False, command="test")
    meta = read_checkpoint_meta(tmp_path / "best.safetensors")
    data = meta.data
    seen = set(data["train"]["files"]) | set(data["validation"]["files"])
    assert seen == {"1", "2"} and "3" not in seen  # split by field, field 3 held out
    assert data["train"]["files"] != data["validation"]["files"]
    # registration checked (no field is shifted), HR fitted into the LR's units
    for shift in data["train"]["shifts_px"]:
        assert max(abs(s) for s in shift) < 1.0
    assert data["train"]["linear_maps"][0]["rsp"] > 0.95
    assert meta.pixel_size_nm == 50.0  # resampled from ~20 nm as the runtime does
    assert meta.normalization.noise_floor == 20.0
    assert data["physics_sigma_px"] > 0


def test_the_held_out_field_is_written_for_evaluation(real_pairs: Path, tmp_path: Path) -> None:
    folder = write_heldout_pairs(_tiny_real_config(), tmp_path / "heldout")
    assert sorted(p.name for p in (folder / "lr").iterdir()) == ["3.tif"]
    assert (folder / "gt" / "3.tif").is_file() and (folder / "hr" / "3.tif").is_file()
