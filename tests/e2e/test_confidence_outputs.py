"""The live confidence through the whole daemon: stored, published, journalled, counted; and
the input guards' warnings from ``infer`` and ``watch`` naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import useq
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.tiff_files import write_tiff
from tcan_live.daemon import Daemon
from tcan_live.daemon.demo_microscope import build_demo_core
from tcan_live.simulate.config import SimulationConfig
from tcan_live.simulate.pair import simulate_pair
from tcan_live.sinks.doctor import examine_store
from tcan_live.sinks.store_layout import open_qc, open_raw
from tests.helpers.daemon import DEMO_ENGINES, daemon_config, previews_received

runner = CliRunner()
CHANNELS = ["microtubules", "actin"]
TIMEPOINTS = 3
SIDE = 64


def _cells(count: int, side: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        simulate_pair("microtubules", side, rng, SimulationConfig()).lr.astype(np.uint16)
        for _ in range(count)
    ]


def _journal(store: Path) -> list[dict[str, Any]]:
    lines = (store / "tcan_live" / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_daemon_stores_publishes_and_journals_each_frames_consistency(
    tiny_engines: Path, tmp_path: Path
) -> None:
    frames = _cells(TIMEPOINTS * len(CHANNELS), SIDE)
    stack = np.stack(frames).reshape(TIMEPOINTS, len(CHANNELS), SIDE, SIDE)
    core = build_demo_core(stack, CHANNELS, pixel_size_um=0.05)
    out = tmp_path / "checked.zarr"
    preview = {"address": "tcp://127.0.0.1:*", "max_fps": 1000.0}
    daemon = Daemon(
        daemon_config(tiny_engines, out, {"kind": "pymmcore-plus"}, preview=preview), core=core
    )
    with previews_received(daemon) as previews:
        daemon.start()
        core.mda.run(
            useq.MDASequence(time_plan={"interval": 0, "loops": TIMEPOINTS}, channels=CHANNELS)
        )
        assert daemon.wait_idle(120)
        stats = daemon.stop(drain=True)
    assert stats.enhanced == TIMEPOINTS * len(CHANNELS) and stats.frames_lost == 0

    qc = np.asarray(open_qc(out))
    raw = open_raw(out)
    assert qc.shape == raw.shape == (TIMEPOINTS, len(CHANNELS), 1, SIDE, SIDE)
    assert qc.dtype == np.float32 and np.isfinite(qc).all() and float(np.abs(qc).max()) > 0

    # An independent reader sees the maps at the raw frames' physical scale.
    node = next(iter(Reader(parse_url(str(out / "qc" / "0")))()))
    scale = node.metadata["coordinateTransformations"][0][0]["scale"]
    raw_node = next(iter(Reader(parse_url(str(out / "raw" / "0")))()))
    assert scale == raw_node.metadata["coordinateTransformations"][0][0]["scale"]
    assert scale[-1] == pytest.approx(0.05)

    records = [r for r in _journal(out) if r.get("event") == "sr"]
    assert len(records) == TIMEPOINTS * len(CHANNELS)
    for record in records:
        for field in ("consistency_rsp", "residual_to_noise", "outlier_fraction", "flagged"):
            assert field in record["qc"], field
    flagged = sum(1 for record in records if record["qc"]["flagged"])
    assert stats.flagged == flagged
    assert all(record["qc"]["flag"] for record in records if record["qc"]["flagged"])

    report = examine_store(out)  # the doctor checks the maps too
    assert report.healthy, report.damage
    chunk = sorted(path for path in (out / "qc" / "0" / "0" / "c").rglob("*") if path.is_file())[0]
    chunk.unlink()
    damaged = examine_store(out)
    assert any(
        line.startswith("qc: 1 journalled frame(s) have no chunk") for line in damaged.damage
    )

    maps = [p for p in previews if p.kind == "qc"]
    assert {p.topic for p in maps} <= {"qc/microtubules", "qc/actin"} and maps
    for shown in maps:
        assert shown.image.dtype == np.float32 and shown.image.shape == (SIDE, SIDE)
        assert shown.header["pixel_size_nm"] == pytest.approx(50.0)
        assert "consistency_rsp" in shown.header["qc"]


def test_confidence_can_be_turned_off(tiny_engines: Path, tmp_path: Path) -> None:
    stack = np.stack(_cells(2, SIDE)).reshape(1, 2, SIDE, SIDE)
    core = build_demo_core(stack, CHANNELS, pixel_size_um=0.05)
    out = tmp_path / "unchecked.zarr"
    config = daemon_config(
        tiny_engines, out, {"kind": "pymmcore-plus"}, confidence={"enabled": False}
    )
    daemon = Daemon(config, core=core)
    daemon.start()
    core.mda.run(useq.MDASequence(time_plan={"interval": 0, "loops": 1}, channels=CHANNELS))
    assert daemon.wait_idle(60)
    daemon.stop(drain=True)
    with pytest.raises(FileNotFoundError, match="no consistency maps"):
        open_qc(out)
    records = [r for r in _journal(out) if r.get("event") == "sr"]
    assert records and all("consistency_rsp" not in r["qc"] for r in records)


def _undersampled_file(folder: Path) -> Path:
    """A simulated confocal frame binned to 250 nm pixels (beyond Nyquist for 250 nm)."""
    fine = _cells(1, 320, seed=3)[0].astype(np.float64)
    coarse = fine.reshape(64, 5, 64, 5).sum(axis=(1, 3)).astype(np.uint16)
    return write_tiff(folder / "coarse_cell.tif", coarse, 250.0)


def test_infer_warns_on_an_undersampled_file_and_writes_the_map(
    tiny_engines: Path, tmp_path: Path
) -> None:
    source = _undersampled_file(tmp_path)
    engine = tiny_engines / DEMO_ENGINES[0]
    result = runner.invoke(
        app, ["infer", str(source), "--engine", str(engine), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "undersampled" in line]
    assert len(warnings) == 1 and str(source) in warnings[0], result.output
    assert "consistency with the input: RSP" in result.output
    assert (tmp_path / "out" / "coarse_cell_sr_qc.tif").exists()
    quiet = runner.invoke(
        app,
        [
            "infer",
            str(source),
            "--engine",
            str(engine),
            "--out",
            str(tmp_path / "o2"),
            "--no-confidence",
        ],
    )
    assert quiet.exit_code == 0 and not (tmp_path / "o2" / "coarse_cell_sr_qc.tif").exists()


def test_infer_warns_on_the_real_248nm_confocal(
    shared_data: Path, tiny_engines: Path, tmp_path: Path
) -> None:
    source = sorted(shared_data.glob("*.tif"))[0]
    engine = tiny_engines / DEMO_ENGINES[0]
    result = runner.invoke(
        app, ["infer", str(source), "--engine", str(engine), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert any(
        "undersampled" in line and str(source) in line for line in result.output.splitlines()
    ), result.output


def test_watch_warns_naming_the_file(tiny_engines: Path, tmp_path: Path) -> None:
    folder = tmp_path / "acquisition"
    source = _undersampled_file(folder)
    out = tmp_path / "watched.zarr"
    engine = tiny_engines / DEMO_ENGINES[0]
    command = ["watch", str(folder), "--out", str(out), "--engine", str(engine), "--once"]
    result = runner.invoke(app, [*command, "--channel", "microtubules", "--no-dashboard"])
    assert result.exit_code == 0, result.output
    assert any(
        "undersampled" in line and source.name in line for line in result.output.splitlines()
    ), result.output
    records = [r for r in _journal(out) if r.get("event") == "sr"]
    assert any("undersampled" in w for w in records[0]["qc"].get("warnings", []))
