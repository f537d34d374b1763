"""The simulator's physics measured with our own FWHM fit, at default settings."""

import numpy as np
import pytest

from tcan_live.metrics import bead_fwhm
from tcan_live.simulate import simulate_pair


@pytest.fixture(scope="module")
def bead_widths() -> dict[str, np.ndarray]:
    widths: dict[str, list[float]] = {"lr": [], "hr": []}
    for seed in range(4):
        pair = simulate_pair("beads", 128, np.random.default_rng(seed))
        for name in widths:
            widths[name] += list(bead_fwhm(getattr(pair, name), pair.pixel_size_nm).fwhm_nm)
    return {name: np.array(values) for name, values in widths.items()}


def test_confocal_beads_are_220_to_255_nm(bead_widths: dict[str, np.ndarray]) -> None:
    assert len(bead_widths["lr"]) >= 20
    assert 220.0 <= np.mean(bead_widths["lr"]) <= 255.0


def test_sted_beads_are_95_to_125_nm(bead_widths: dict[str, np.ndarray]) -> None:
    assert len(bead_widths["hr"]) >= 20
    assert 95.0 <= np.mean(bead_widths["hr"]) <= 125.0
