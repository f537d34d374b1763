"""tcan-live bench pipeline at a tiny size: the report's keys and its invariants."""

import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tests.synthetic import tiny_checkpoint

runner = CliRunner()


def test_bench_pipeline_reports_the_ratio_and_loses_nothing(tmp_path: Path) -> None:
    torch.manual_seed(2)
    checkpoint = tiny_checkpoint(tmp_path / "bench.safetensors")
    engine = tmp_path / "engine"
    build = ["build-engine", str(checkpoint), "--backend", "onnxruntime", "--tile", "32"]
    built = runner.invoke(app, [*build, "--out", str(engine)])
    assert built.exit_code == 0, built.output
    report_path = tmp_path / "bench.json"
    bench = ["bench", "pipeline", "--engine", str(engine), "--frames", "24", "--size", "48"]
    options = ["--max-in-memory", "4", "--repeats", "2", "--json", str(report_path)]
    options += ["--live-frames", "12", "--camera-factor", "2"]
    result = runner.invoke(app, [*bench, *options])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    for key in (
        "engine_mp_per_s",
        "pipeline_mp_per_s",
        "latency_ms_p50",
        "latency_ms_p99",
        "rss_growth_mb",
        "frames_lost",
    ):
        assert key in report
    assert report["frames_lost"] == 0
    assert report["engine_mp_per_s"] > 0 and report["pipeline_mp_per_s"] > 0
    modes = [run["mode"] for run in report["runs"]]  # the pair alternates, paced, then live
    assert modes == [
        "saturated",
        "saturated-pz",
        "saturated-pz",
        "saturated",
        "paced",
        "live",
        "live-newest-first",
    ]
    paced = report["runs"][4]
    assert max(run["in_memory_peak"] for run in report["runs"]) <= 4
    assert paced["rate_hz"] > 0 and all(run["rate_hz"] == 0 for run in report["runs"][:4])
    for run in report["runs"][:5]:
        assert run["frames_in_store"] == 24  # counted by zarr, over every image
    for mode in ("live", "live_newest_first"):  # every frame stored, latencies measured
        assert report[f"{mode}_frames_in_store"] == 12
        assert report[f"{mode}_p50_over_engine_call"] > 0
        assert 1 <= report[f"{mode}_previews_shown"] <= 12
    assert report["live_previews_shown"] == 12  # in acquisition order every frame is shown
    assert report["engine_call_ms"] > 0
    assert report["multidim_vs_timelapse"] > 0
    assert "pipeline against engine alone" in result.output
    assert "saturated-pz / saturated:" in result.output
    assert "live_newest_first: preview latency p50" in result.output


def test_bench_soak_runs_paced_and_counts_the_store(tmp_path: Path) -> None:
    torch.manual_seed(3)
    checkpoint = tiny_checkpoint(tmp_path / "soak.safetensors")
    engine = tmp_path / "engine"
    build = ["build-engine", str(checkpoint), "--backend", "onnxruntime", "--tile", "32"]
    assert runner.invoke(app, [*build, "--out", str(engine)]).exit_code == 0
    report_path = tmp_path / "soak.json"
    soak = ["bench", "soak", "--engine", str(engine), "--frames", "30", "--size", "40"]
    result = runner.invoke(app, [*soak, "--sample-every", "0.05", "--json", str(report_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["frames_lost"] == 0 and report["frames_in_store"] == 30
    assert report["rate_hz"] > 0 and report["latency_drift"] > 0
    assert all(rss > 0 for _, rss in report["rss_mb_over_time"])
    assert "soak: 30 frames of 40 x 40, paced" in result.output
