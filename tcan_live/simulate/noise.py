"""Detection noise: Poisson photon counting plus Gaussian detector (read) noise."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def detect(
    expected_photons: NDArray[np.floating], read_noise: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Draw a noisy image from per-pixel expected photon counts (background included).

    Parameters
    ----------
    expected_photons
        Non-negative expected counts per pixel.
    read_noise
        Standard deviation of zero-mean Gaussian detector noise, in photons.
    rng
        Source of randomness.
    """
    counts = rng.poisson(np.clip(expected_photons, 0.0, None)).astype(np.float32)
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, counts.shape).astype(np.float32)
    return counts
