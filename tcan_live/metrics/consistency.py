"""Where a super-resolved image claims what its measured input does not support.

The output, blurred back to the input's resolution and mapped to its intensities
(``alpha G_sigma(output) + beta``, see :func:`~tcan_live.metrics.error_map.fit_blur`), is what
the microscope would have recorded had the output been the truth. The residual against the
recorded frame, smoothed over the PSF (a real feature is never smaller than the PSF in the
input) and divided by what noise and an intensity tolerance allow there, is a z-score map:
about N(0, 1) where output and data agree; strongly negative where the output shows structure
the data do not contain (invented), strongly positive where it lost structure the data show.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from tcan_live.core.acquisition import Consistency
from tcan_live.metrics.error_map import pearson
from tcan_live.metrics.noise import NoiseModel

FloatArray = NDArray[np.float64]


@lru_cache(maxsize=16)
def _pooling_energy_1d(length: int, sigma: float) -> NDArray[np.float64]:
    """Sum of squared weights of each output of a 1D Gaussian filter (scipy, reflect mode).

    Near the edges reflection folds the kernel onto fewer pixels, so pooled noise is larger
    there than the kernel's own energy says. Only the edges differ from the interior: they are
    computed on a short line (the filter's response to each unit impulse) and the interior
    filled in, so a frame of any size costs the same.
    """
    from scipy.ndimage import gaussian_filter1d

    edge = int(4.0 * sigma + 0.5) + 1  # scipy's kernel radius, plus one
    short = min(length, 4 * edge)
    responses = gaussian_filter1d(np.eye(short), sigma, axis=0, mode="reflect")
    energies = np.sum(responses**2, axis=1)
    if short == length:
        return energies
    interior = energies[short // 2]
    energy = np.full(length, interior)
    energy[:edge] = energies[:edge]
    energy[-edge:] = energies[-edge:]
    return energy


def _pooling_energy(shape: tuple[int, int], sigma: float) -> FloatArray:
    """Per-pixel sum of squared weights of the 2D Gaussian pooling filter."""
    if sigma <= 0:
        return np.ones(shape)
    key = round(sigma, 3)
    return np.outer(_pooling_energy_1d(shape[0], key), _pooling_energy_1d(shape[1], key))


def consistency_map(
    reference: NDArray[np.floating],
    output_on_grid: NDArray[np.floating],
    *,
    blur_px: float,
    smoothing_px: float,
    noise: NoiseModel,
    tolerance: float = 0.1,
    threshold: float = 5.0,
    min_alpha: float = 0.0,
) -> Consistency:
    """Return the z-score map of ``output_on_grid`` against the measured ``reference``.

    The result's ``flag`` is empty: what counts as too inconsistent is the caller's setting
    (:mod:`tcan_live.runtime.confidence`).

    Parameters
    ----------
    reference
        The recorded (diffraction-limited) frame, float.
    output_on_grid
        The super-resolved output resampled to ``reference``'s grid.
    blur_px
        Gaussian sigma that takes the output to the input's resolution (input pixels).
    smoothing_px
        Scale over which residuals are pooled (input pixels; the PSF's sigma).
    noise
        The reference's noise model (:func:`~tcan_live.metrics.noise.fit_noise_model`).
    tolerance
        Intensity error allowed on top of noise, as a fraction of the local signal above the
        background (the output is a model, not photon-exact).
    threshold
        ``|z|`` above which a pixel counts as an outlier.
    min_alpha
        Lower bound on the fitted intensity scale; beta is refitted when it applies. Without
        it an output that invents structure on a blank frame fits with alpha near 0.
    """
    from scipy.ndimage import gaussian_filter

    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(output_on_grid, dtype=np.float64)
    if ref.shape != out.shape or ref.ndim != 2:
        raise ValueError(f"shapes {ref.shape} and {out.shape}: expected one 2D grid")
    blurred = gaussian_filter(out, blur_px, mode="reflect") if blur_px > 0 else out
    design = np.stack([blurred.ravel(), np.ones(blurred.size)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(design, ref.ravel(), rcond=None)
    if alpha < min_alpha:
        alpha = min_alpha
        beta = float(np.mean(ref) - alpha * np.mean(blurred))
    mapped = alpha * blurred + beta
    residual = ref - mapped
    pooled_residual = gaussian_filter(residual, round(smoothing_px, 3), mode="reflect")
    pooled_mapped = gaussian_filter(mapped, smoothing_px, mode="reflect")
    background = float(np.percentile(pooled_mapped, 1.0))
    signal = np.maximum(pooled_mapped - background, 0.0)
    noise_variance = _pooling_energy(ref.shape, smoothing_px) * noise.sigma(pooled_mapped) ** 2
    allowed = np.sqrt(noise_variance + (tolerance * signal) ** 2)
    z = pooled_residual / np.maximum(allowed, 1e-12)
    rsp = pearson(mapped, ref)
    return Consistency(
        map=z.astype(np.float32),
        rsp=rsp,
        rse=math.sqrt(float(np.mean(residual**2))),
        z_rms=math.sqrt(float(np.mean(z**2))),
        residual_to_noise=math.sqrt(
            float(np.mean(pooled_residual**2)) / max(float(np.mean(noise_variance)), 1e-24)
        ),
        outlier_fraction=float(np.mean(np.abs(z) > threshold)),
        alpha=float(alpha),
    )
