"""The noise estimates recover the Poisson-Gaussian noise of synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tcan_live.metrics.noise import fit_noise_model, noise_sigma


def _blobs(rng: np.random.Generator, size: int = 192) -> np.ndarray:
    points = np.zeros((size, size))
    points[rng.integers(0, size, 300), rng.integers(0, size, 300)] = 1.0
    signal = gaussian_filter(points, 2.5)
    return signal / signal.max() * 200.0 + 5.0


@pytest.mark.parametrize("gain", [1.0, 4.0])
def test_noise_model_follows_intensity(gain: float) -> None:
    rng = np.random.default_rng(3)
    signal = _blobs(rng)
    image = 100.0 + gain * rng.poisson(signal) + rng.normal(0.0, 3.0, signal.shape)
    model = fit_noise_model(image)
    expected = np.sqrt(9.0 + gain**2 * signal)
    ratio = model.sigma(100.0 + gain * signal) / expected
    assert 0.9 < float(np.median(ratio)) < 1.1
    assert model.gain == pytest.approx(gain, rel=0.2)


@pytest.mark.parametrize("background", [3, 20, 200])
def test_flat_poisson_sigma(background: int) -> None:
    rng = np.random.default_rng(background)
    flat = 100.0 + rng.poisson(background, (160, 160)).astype(np.float64)
    assert noise_sigma(flat) == pytest.approx(np.sqrt(background), rel=0.06)
    model = fit_noise_model(flat)
    assert float(model.sigma(np.array([100.0 + background]))[0]) == pytest.approx(
        np.sqrt(background), rel=0.08
    )


def test_noise_free_and_tiny_images() -> None:
    assert noise_sigma(np.full((8, 8), 7.0)) == 0.0
    assert fit_noise_model(np.full((8, 8), 7.0)).sigma(np.array([7.0]))[0] == 0.0
    with pytest.raises(ValueError, match="at least 3 x 3"):
        noise_sigma(np.zeros((2, 9)))


def test_large_frames_are_sampled_without_bias() -> None:
    rng = np.random.default_rng(9)
    large = 100.0 + rng.poisson(20, (1100, 1000)).astype(np.float64)  # over the sample size
    assert noise_sigma(large) == pytest.approx(np.sqrt(20), rel=0.03)
    ramp = np.add.outer(np.arange(1100.0), np.arange(1000.0)) + rng.normal(0, 2.0, (1100, 1000))
    assert noise_sigma(ramp) == pytest.approx(2.0, rel=0.03)  # a smooth gradient is no noise
