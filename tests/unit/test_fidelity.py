"""Fidelity figures on enhancers whose answers are known: identity and Gaussian smoothing."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tcan_live.evaluate.fidelity import (
    CONTROL_SIGMA_PX,
    FIDELITY_SEED,
    flicker,
    linearity,
    noise_only,
)
from tcan_live.simulate import SimulationConfig, simulate_pair


def identity(image: np.ndarray, pixel_size_nm: float) -> tuple[np.ndarray, float]:
    return image.astype(np.float32), pixel_size_nm


def smoothing(image: np.ndarray, pixel_size_nm: float) -> tuple[np.ndarray, float]:
    return gaussian_filter(image, CONTROL_SIGMA_PX).astype(np.float32), pixel_size_nm


def test_the_control_itself_scores_one_and_raw_noise_several() -> None:
    assert noise_only(smoothing, 50.0, 20.0, size=64).ratio == pytest.approx(1.0)
    # white noise keeps 1 / (2 sqrt(pi) 1.5) of its std under the control: ratio ~5.3
    assert noise_only(identity, 50.0, 20.0, size=64).ratio == pytest.approx(5.3, rel=0.15)


def test_the_noise_free_input_is_linear() -> None:
    # An oracle that returns what the input would be without noise (same seed, same physics).
    pair = simulate_pair(
        "microtubules", 64, np.random.default_rng([FIDELITY_SEED, 1]), SimulationConfig()
    )

    def oracle(image: np.ndarray, pixel_size_nm: float) -> tuple[np.ndarray, float]:
        assert np.array_equal(image, pair.lr)
        return pair.lr_clean, pixel_size_nm

    deciles, background = linearity(oracle, 50.0, "microtubules", size=64)
    assert len(deciles) == 10
    assert all(abs(value - 1.0) < 0.01 for value in deciles), deciles
    assert background == pytest.approx(1.0, abs=0.01)


def test_the_input_flickers_as_much_as_itself() -> None:
    output, reference = flicker(identity, 50.0, "microtubules", frames=3, size=48)
    assert output == pytest.approx(reference) and output > 0
    smoothed, _ = flicker(smoothing, 50.0, "microtubules", frames=3, size=48)
    assert smoothed < reference
