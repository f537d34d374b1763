"""tcan-live bench batch at a tiny size: one run per cluster, every frame once, same pixels."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcan_live.bench.batch import parse_configurations
from tcan_live.cli.main import app
from tests.helpers.daemon import build_tiny_engine

runner = CliRunner()


def test_bench_batch_compares_cluster_sizes_on_the_same_frames(tmp_path: Path) -> None:
    engine = build_tiny_engine(tmp_path / "engine", seed=4)
    report_path = tmp_path / "bench.json"
    bench = ["bench", "batch", "--engine", str(engine), "--frames", "8", "--size", "48"]
    options = ["--runs", "1x1,2x1", "--repeats", "2", "--json", str(report_path)]
    result = runner.invoke(app, [*bench, *options])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    first, second = report["runs"]
    assert (first["workers"], second["workers"]) == (1, 2)
    for run in report["runs"]:
        assert run["written"] == run["chunks"] == 8 and run["identical_to_first"]
        assert run["megapixels_per_s"] > 0 and run["cpu_busy_percent"] > 0
        assert run["own_cpu_percent"] > 0
    assert first["speedup"] == 1.0
    assert second["speedup"] == pytest.approx(
        second["megapixels_per_s"] / first["megapixels_per_s"]
    )
    assert report["engine_alone_mp_per_s"] > 0


def test_cluster_configurations_are_checked() -> None:
    plans = parse_configurations("1x2, 2x1")
    assert [(p.workers, p.engine_threads) for p in plans] == [(1, 2), (2, 1)]
    with pytest.raises(ValueError, match=r"--runs '2'"):
        parse_configurations("1x1,2")
