"""Soak run (opt-in: ``pytest -m soak``): 10,000 frames of 256 x 256 with the small engine.

The same run as ``tcan-live bench soak``: one paced acquisition at 0.85x the engine's frame
rate, about an hour on an idle 2-core CPU; it is not part of ``make test``. It prints the
report and asserts the issue's reliability targets: nothing lost (by the pipeline's counters
and by zarr's count of the stored frames), resident memory growth under 50 MB, no backlog
growth.
"""

import json
from pathlib import Path

import pytest

from tcan_live.bench.pipeline import soak

ENGINE = Path(__file__).resolve().parents[2] / "engines" / "microtubules-small"


@pytest.mark.soak
def test_soak_ten_thousand_frames(tmp_path: Path) -> None:
    report = soak(ENGINE, frames=10_000, size=256, log=print)
    (tmp_path / "soak.json").write_text(json.dumps(report, indent=2))
    summary = {k: v for k, v in report.items() if k not in ("runs", "rss_mb_over_time")}
    print(json.dumps(summary, indent=2))
    assert report["frames_lost"] == 0 and report["frames_in_store"] == 10_000
    assert report["rss_growth_mb"] < 50
    assert report["backlog_slope_per_s"] < 0.01
