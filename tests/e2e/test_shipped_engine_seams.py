"""Seams below the noise: a flat noisy frame through a shipped engine shows no tile grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tcan_live import load_engine
from tcan_live.metrics.seams import seam_figures
from tcan_live.runtime.tiling import TilePlan

ENGINES = Path(__file__).resolve().parents[2] / "engines"
SIZE = 400  # two tiles of 320 with a 32 px halo along each axis


@pytest.mark.parametrize("background", [20, 200])
def test_flat_noise_shows_no_tile_grid(background: int) -> None:
    engine = load_engine(ENGINES / "microtubules-small")
    frame = 100.0 + np.random.default_rng(background).poisson(background, (SIZE, SIZE))
    output = engine.enhance(frame.astype(np.float32), engine.pixel_size_nm).image
    manifest = engine.manifest
    plan = TilePlan.for_frame((SIZE, SIZE), manifest["tile"], manifest["halo"], engine.scale)
    assert plan.count == 4
    rows, cols = plan.overlaps()
    assert rows.any() and cols.any() and not rows.all()
    figures = seam_figures(output, rows, cols)
    print(f"\nbackground {background}: {figures}")
    assert figures.pixel_ratio <= 1.5
    assert figures.profile_ratio <= 1.5
    engine.close()
