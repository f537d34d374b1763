"""Noise of a single image, measured from the image itself: a scalar sigma and a noise model.

Confocal detectors give Poisson-Gaussian noise, whose variance grows linearly with the expected
intensity: ``var = read_variance + gain * mean``. Both are estimated from one frame without a
reference, from each pixel's difference to the mean of its four neighbours: on an image sampled
finer than its optical resolution that difference is almost pure noise (a white-noise pixel
minus its neighbours' mean has 1.25 times the pixel variance). Clipping at a few median
absolute deviations keeps edges of bright structures from inflating the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# A pixel minus the mean of four independent neighbours: variance (1 + 4/16) of one pixel's.
_DIFFERENCE_GAIN = math.sqrt(1.25)
_MAD_TO_SIGMA = 1.4826
_CLIP = 3.5
# Variance of a unit normal truncated at +-3.5: 1 - 2 c phi(c) / (2 Phi(c) - 1).
_CLIPPED_VARIANCE = 0.99389


@dataclass(frozen=True)
class NoiseModel:
    """Pixel variance as a function of the expected intensity: ``read_variance + gain * mean``.

    ``read_variance`` absorbs the camera offset (it is the variance extrapolated to intensity 0,
    which can be negative when the detector has an offset); :meth:`sigma` never returns less
    than ``floor``, the smallest noise measured anywhere in the image.
    """

    read_variance: float
    gain: float
    floor: float

    def sigma(self, mean: NDArray[np.floating]) -> FloatArray:
        """Return the expected noise standard deviation at intensities ``mean``."""
        variance = self.read_variance + self.gain * np.asarray(mean, dtype=np.float64)
        return np.sqrt(np.maximum(variance, self.floor**2))


def _neighbour_residual(image: NDArray[np.floating]) -> tuple[FloatArray, FloatArray]:
    """Return (interior pixel - mean of its 4 edge neighbours, mean of its 4 diagonal ones).

    The intensity a residual is binned by comes from other pixels than the residual itself, so
    selecting a bin does not select the residual's noise.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2 or min(data.shape) < 3:
        raise ValueError(f"image of shape {data.shape}: expected a 2D image of at least 3 x 3")
    neighbours = 0.25 * (data[:-2, 1:-1] + data[2:, 1:-1] + data[1:-1, :-2] + data[1:-1, 2:])
    diagonal = 0.25 * (data[:-2, :-2] + data[:-2, 2:] + data[2:, :-2] + data[2:, 2:])
    return data[1:-1, 1:-1] - neighbours, diagonal


def _robust_sigma(values: FloatArray) -> float:
    """Return the spread of values within 3.5 MAD-sigmas of their median, per pixel.

    The MAD alone is biased on the integer counts of dim frames; the clipped standard deviation
    (corrected for the clipping of a normal) is not, and still ignores structure edges.
    """
    centre = float(np.median(values))
    rough = _MAD_TO_SIGMA * float(np.median(np.abs(values - centre)))
    if rough == 0.0:
        return float(np.std(values)) / _DIFFERENCE_GAIN
    kept = values[np.abs(values - centre) <= _CLIP * rough]
    return math.sqrt(float(np.mean((kept - centre) ** 2)) / _CLIPPED_VARIANCE) / _DIFFERENCE_GAIN


# noise_sigma runs on every frame (the normalisation's noise floor): about this many residuals,
# from rows spread over the whole frame, estimate sigma within a fraction of a percent.
_SIGMA_SAMPLE = 1 << 18


def noise_sigma(image: NDArray[np.floating]) -> float:
    """Return one robust noise standard deviation for the whole image (intensity units).

    Large frames are measured on a regular sample of their residuals, spread over the frame.
    """
    data = np.asarray(image)
    if data.ndim == 2 and data.size > _SIGMA_SAMPLE:
        # Every k-th row with its two neighbours: the sample covers the frame top to bottom.
        step = -(-data.size // _SIGMA_SAMPLE)
        centres = np.arange(1, data.shape[0] - 1, step)
        rows = np.stack([centres - 1, centres, centres + 1], axis=1)
        residual = np.concatenate(
            [_neighbour_residual(data[triple])[0] for triple in rows], axis=None
        )
    else:
        residual, _ = _neighbour_residual(data)
    return _robust_sigma(residual.ravel())


def fit_noise_model(image: NDArray[np.floating], *, bins: int = 12) -> NoiseModel:
    """Fit ``var = read_variance + gain * mean`` to one image.

    Pixels are binned by their diagonal neighbours' mean (quantile bins, each as full as the
    others); each bin's variance is a robust estimate from its residuals; the line is a
    least-squares fit over the bins, with ``gain >= 0``. A flat or noise-free image gives
    ``gain = 0`` and its measured variance.
    """
    residual, local_mean = _neighbour_residual(image)
    residual, local_mean = residual.ravel(), local_mean.ravel()
    edges = np.unique(np.quantile(local_mean, np.linspace(0.0, 1.0, bins + 1)))
    centres, variances = [], []
    index = np.clip(np.searchsorted(edges, local_mean, side="right") - 1, 0, len(edges) - 2)
    for label in range(max(len(edges) - 1, 1)):
        members = index == label
        if np.count_nonzero(members) < 16:
            continue
        centres.append(float(np.median(local_mean[members])))
        variances.append(_robust_sigma(residual[members]) ** 2)
    if not centres:
        sigma = _robust_sigma(residual)
        return NoiseModel(read_variance=sigma**2, gain=0.0, floor=sigma)
    x, y = np.asarray(centres), np.asarray(variances)
    floor = math.sqrt(max(float(y.min()), 0.0))
    if len(x) < 2 or float(np.ptp(x)) == 0.0:
        return NoiseModel(read_variance=float(y.mean()), gain=0.0, floor=floor)
    gain, intercept = np.polyfit(x, y, 1)
    if gain <= 0:
        return NoiseModel(read_variance=float(np.median(y)), gain=0.0, floor=floor)
    return NoiseModel(read_variance=float(intercept), gain=float(gain), floor=floor)
