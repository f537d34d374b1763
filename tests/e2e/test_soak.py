"""Soak run (opt-in: ``pytest -m soak``): 10,000 frames of 256 x 256 with the small engine.

Takes hours on a 2-core CPU; it is not part of ``make test``. It prints the report and asserts
the issue's reliability targets: nothing lost, resident memory growth under 50 MB.
"""

import json
from pathlib import Path

import pytest

from tcan_live.bench.pipeline import bench_pipeline

ENGINE = Path(__file__).resolve().parents[2] / "engines" / "microtubules-small"


@pytest.mark.soak
def test_soak_ten_thousand_frames(tmp_path: Path) -> None:
    report = bench_pipeline(ENGINE, frames=10_000, size=256, log=print)
    (tmp_path / "soak.json").write_text(json.dumps(report, indent=2))
    summary = {k: v for k, v in report.items() if k != "runs"}
    print(json.dumps(summary, indent=2))
    assert report["frames_lost"] == 0
    assert report["rss_growth_mb"] < 50
