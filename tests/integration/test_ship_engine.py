"""``tcan-live ship-engine`` on tiny checkpoints: engine, held-out evaluation, card, ablation."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.engine.load import load_engine
from tcan_live.model import save_checkpoint
from tests.synthetic import tiny_generator

runner = CliRunner()


def _checkpoint(path: Path, branches: tuple[str, ...], steps: int) -> Path:
    torch.manual_seed(len(branches))
    training = {
        "steps_completed": steps,
        "training_time_s": 120.0,
        "command": f"train {path.stem}",
        "config": {"training": {"epochs": 4, "steps_per_epoch": 10, "seed": len(branches)}},
    }
    return save_checkpoint(
        path, tiny_generator(branches=branches), pixel_size_nm=50.0, training=training
    )


def test_ship_engine_writes_a_loadable_engine_and_a_card_with_the_ablation(tmp_path: Path) -> None:
    shipped = _checkpoint(tmp_path / "tcan.safetensors", ("unet", "dfcan"), 30)
    variants = {"tcan": ("unet", "dfcan"), "dfcan": ("dfcan",), "unet": ("unet",)}
    ablation = [
        _checkpoint(tmp_path / f"{name}.safetensors", branches, 30)
        for name, branches in variants.items()
    ]
    out = tmp_path / "engines" / "beads-tiny"
    options = ["--structure", "beads", "--out", str(out), "--count", "1", "--size", "64"]
    for path in ablation:
        options += ["--ablation", str(path)]
    tiles = ["--tile", "32", "--halo", "4"]
    result = runner.invoke(app, ["ship-engine", str(shipped), *options, *tiles])
    assert result.exit_code == 0, result.output

    engine = load_engine(out)
    assert engine.scale == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["tile"], manifest["halo"]) == (32, 4)
    card = json.loads((out / "model_card.json").read_text())
    assert card["structure"] == "beads" and card["held_out"]["count"] == 1
    assert {"output", "input", "hr", "lucy-richardson"} <= set(card["metrics"])
    rows = card["ablation"]
    assert [row["generator"] for row in rows] == [
        "TCAN",
        "DFCAN only",
        "U-net only",
        "Lucy-Richardson (best)",
    ]
    assert rows[0]["parameters"] > rows[1]["parameters"] > 0 and rows[2]["parameters"] > 0
    assert all(row["steps"] == 30 and row["budget_steps"] == 40 for row in rows[:3])
    assert [row.get("seed") for row in rows] == [2, 1, 1, None]
    # The rows are measured, not copied: different generators give different outputs.
    assert len({row["output"]["psnr"] for row in rows}) == len(rows)
    text = (out / "MODEL_CARD.md").read_text()
    assert "## Ablation (same data, same budget, same evaluation" in text
    assert "| DFCAN only |" in text and "`train dfcan`" in text
