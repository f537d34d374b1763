"""Signal-to-noise ratio as in the papers: SNR = |(s - mean_bg) / std_bg| (Huang et al. eq. 13).

Regions: unless masks are given, they come from a reference image (or the image itself): the
reference is smoothed (Gaussian, sigma 1 px) and thresholded with Otsu's method. Signal pixels
are the foreground; background pixels are those more than ``guard`` pixels away from any
foreground pixel, so the PSF's skirts count as neither. ``s`` is the mean of the image over the
signal region; ``mean_bg`` and ``std_bg`` the mean and standard deviation over the background.
Measuring every image of one field with the masks of one reference compares them fairly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Regions:
    """Signal and background masks of one field of view."""

    signal: BoolArray
    background: BoolArray


def regions_from(reference: NDArray[np.floating], *, guard: int = 3) -> Regions:
    """Otsu signal mask of the smoothed ``reference`` and a background mask ``guard`` px away."""
    from scipy.ndimage import binary_dilation, gaussian_filter
    from skimage.filters import threshold_otsu

    smooth = gaussian_filter(np.asarray(reference, dtype=np.float64), 1.0)
    if float(smooth.max()) == float(smooth.min()):
        empty = np.zeros(smooth.shape, dtype=bool)
        return Regions(signal=empty, background=~empty)
    signal = smooth > threshold_otsu(smooth)  # type: ignore[no-untyped-call]
    square = np.ones((3, 3), dtype=bool)
    near = binary_dilation(signal, square, iterations=guard) if guard > 0 else signal
    return Regions(signal=signal, background=~near)


def snr(
    image: NDArray[np.floating],
    regions: Regions | None = None,
    *,
    reference: NDArray[np.floating] | None = None,
) -> float:
    """Compute |(s - mean_bg) / std_bg| of ``image``.

    Parameters
    ----------
    image
        The image to measure.
    regions
        Signal and background masks; by default derived from ``reference`` (or ``image``).
    reference
        Image whose structure defines the regions (e.g. the noise-free ground truth).

    Returns
    -------
    float
        The SNR; NaN when a region is empty or the background has no spread.
    """
    data = np.asarray(image, dtype=np.float64)
    if regions is None:
        regions = regions_from(data if reference is None else reference)
    if regions.signal.shape != data.shape or regions.background.shape != data.shape:
        raise ValueError(f"region masks {regions.signal.shape} do not match image {data.shape}")
    if not regions.signal.any() or regions.background.sum() < 2:
        return math.nan
    background = data[regions.background]
    spread = float(background.std())
    if spread == 0.0:
        return math.nan
    return abs((float(data[regions.signal].mean()) - float(background.mean())) / spread)
