import numpy as np
import pytest
from pydantic import ValidationError

from tcan_live.simulate import STRUCTURES, SimulationConfig, preset, simulate_pair


@pytest.mark.parametrize("structure", STRUCTURES)
def test_pair_shapes_dtypes_and_photon_scale(structure: str) -> None:
    pair = simulate_pair(structure, 64, np.random.default_rng(3))
    for image in (pair.lr, pair.hr, pair.gt, pair.lr_clean):
        assert image.shape == (64, 64)
        assert image.dtype == np.float32
    config = SimulationConfig()
    # The brightest noise-free LR pixel is scaled to the configured photon level.
    assert pair.lr_clean.max() == pytest.approx(config.photons + config.lr_background, rel=1e-4)
    assert pair.gt.min() >= config.hr_background - 1e-4
    assert pair.pixel_size_nm == 50.0 and pair.scale == 1
    assert (pair.bead_positions is not None) == (structure == "beads")


def test_same_seed_same_pair_and_different_seed_differs() -> None:
    a = simulate_pair("microtubules", 48, np.random.default_rng(7))
    b = simulate_pair("microtubules", 48, np.random.default_rng(7))
    c = simulate_pair("microtubules", 48, np.random.default_rng(8))
    np.testing.assert_array_equal(a.lr, b.lr)
    np.testing.assert_array_equal(a.hr, b.hr)
    assert not np.array_equal(a.gt, c.gt)


def test_noise_is_poisson_around_the_noise_free_image() -> None:
    config = SimulationConfig(read_noise=0.0)
    pair = simulate_pair("actin", 96, np.random.default_rng(2), config)
    residual = pair.hr - pair.gt
    # Poisson: variance equals the mean, so normalised residuals have unit variance.
    assert np.var(residual / np.sqrt(pair.gt)) == pytest.approx(1.0, rel=0.1)
    assert np.all(pair.hr == np.round(pair.hr))


def test_bead_positions_lie_on_the_hr_peaks() -> None:
    pair = simulate_pair("beads", 96, np.random.default_rng(5))
    assert pair.bead_positions is not None and len(pair.bead_positions) > 0
    rows, cols = np.round(pair.bead_positions).astype(int).T
    inner = (rows > 2) & (rows < 93) & (cols > 2) & (cols < 93)
    local = pair.gt[rows[inner], cols[inner]]
    assert np.median(local) > 5 * np.median(pair.gt)


def test_sim_preset_puts_lr_on_a_coarser_grid() -> None:
    config = preset("widefield-sim")
    pair = simulate_pair("rings", 64, np.random.default_rng(0), config)
    assert pair.lr.shape == (32, 32) and pair.hr.shape == (64, 64)
    assert pair.scale == 2 and pair.pixel_size_nm == 30.0


def test_widefield_preset_and_bad_config() -> None:
    pair = simulate_pair("beads", 32, np.random.default_rng(0), preset("widefield-10x-20x"))
    assert pair.lr.shape == (32, 32) and pair.pixel_size_nm == 320.0
    with pytest.raises(ValidationError, match="fine_grid_nm"):
        SimulationConfig(pixel_size_nm=45.0, fine_grid_nm=10.0)
    with pytest.raises(ValueError, match="unknown simulation preset"):
        preset("nope")
    with pytest.raises(ValueError, match="multiple of the scale"):
        simulate_pair("beads", 33, np.random.default_rng(0), preset("widefield-sim"))
