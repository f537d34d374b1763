"""Simulator additions for training data that covers what a microscope sees (issue 12)."""

import numpy as np
import pytest

from tcan_live.metrics.error_map import error_map
from tcan_live.simulate import SimulationConfig, simulate_pair
from tcan_live.simulate.optics import hr_to_lr_flux


def test_an_empty_field_is_flat_background_plus_offset() -> None:
    config = SimulationConfig(camera_offset=100.0, lr_background=5.0, hr_background=2.0)
    pair = simulate_pair("empty", 32, np.random.default_rng(0), config)
    assert np.all(pair.lr_clean == pytest.approx(105.0))
    assert np.all(pair.gt == pytest.approx(102.0))
    # Poisson around the background, the offset added without noise of its own
    assert pair.lr.mean() == pytest.approx(105.0, abs=0.5)
    assert pair.lr.var() == pytest.approx(5.0 + config.read_noise**2, rel=0.25)


def test_haze_is_smooth_and_consistent_between_lr_and_hr() -> None:
    config = SimulationConfig(haze=50.0)
    pair = simulate_pair("empty", 64, np.random.default_rng(1), config)
    haze_lr = pair.lr_clean - config.lr_background
    haze_hr = pair.gt - config.hr_background
    assert haze_lr.max() > 5.0
    np.testing.assert_allclose(haze_hr * hr_to_lr_flux(config), haze_lr, rtol=1e-4, atol=1e-3)


def test_vesicles_add_blobs_beside_filaments() -> None:
    plain = simulate_pair("microtubules", 64, np.random.default_rng(2), SimulationConfig())
    config = SimulationConfig(vesicle_density_per_um2=2.0)
    with_blobs = simulate_pair("microtubules", 64, np.random.default_rng(2), config)
    assert not np.array_equal(plain.gt, with_blobs.gt)


def test_the_flux_ratio_matches_a_fit_of_the_images() -> None:
    # The physics' map of HR into LR units equals the one the SQUIRREL fit finds.
    config = SimulationConfig()
    pair = simulate_pair("microtubules", 96, np.random.default_rng(3), config)
    fit = error_map(pair.lr_clean, pair.gt)
    assert fit.alpha == pytest.approx(hr_to_lr_flux(config), rel=0.03)
