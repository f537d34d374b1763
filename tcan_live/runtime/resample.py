"""Pixel-size matching: resample a frame onto the engine's training pixel grid.

The output grid has exactly the target pixel size (so the super-resolved pixel size is exactly
``training pixel size / scale``); it covers the input field, pixel centres aligned at the first
pixel. Downsampling is anti-aliased with a Gaussian prefilter; both directions use cubic
B-spline interpolation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def resampled_shape(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    """Shape of a (Y, X) frame after zooming by ``factor`` (input / target pixel size)."""
    return (max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor)))


def resample_to_pixel_size(
    image: np.ndarray, pixel_size_nm: float, target_pixel_size_nm: float
) -> np.ndarray:
    """Resample a 2D float image from ``pixel_size_nm`` to ``target_pixel_size_nm`` pixels.

    Parameters
    ----------
    image
        2D float32 image.
    pixel_size_nm
        Its pixel size.
    target_pixel_size_nm
        The pixel size of the returned image.

    Returns
    -------
    numpy.ndarray
        float32 image of :func:`resampled_shape` with ``factor = pixel_size_nm /
        target_pixel_size_nm``; the input itself when the sizes already match.
    """
    factor = pixel_size_nm / target_pixel_size_nm
    if math.isclose(factor, 1.0, rel_tol=1e-6):
        return image
    source = image.astype(np.float32, copy=False)
    if factor < 1.0:
        # Remove what the coarser grid cannot hold (same rule as skimage's anti_aliasing).
        sigma = max(0.0, (1.0 / factor - 1.0) / 2.0)
        source = ndimage.gaussian_filter(source, sigma, mode="mirror")
    step = 1.0 / factor  # input pixels per output pixel
    shape = resampled_shape(image.shape, factor)
    # Output pixel i has its centre at input coordinate i * step (first centres aligned).
    return ndimage.affine_transform(
        source,
        matrix=[step, step],
        offset=0.0,
        output_shape=shape,
        order=3,
        mode="mirror",
        prefilter=True,
        output=np.float32,
    )


def resample_to_shape(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a 2D image onto exactly ``shape`` (cubic B-spline, anti-aliased when shrinking).

    Used where a result must land on a given grid, e.g. an evaluation's high-resolution
    reference, rather than on the engine's training pixel size.
    """
    if image.shape == shape:
        return image.astype(np.float32, copy=False)
    factors = (shape[0] / image.shape[0], shape[1] / image.shape[1])
    source = image.astype(np.float32, copy=False)
    if min(factors) < 1.0:
        sigmas = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
        source = ndimage.gaussian_filter(source, sigmas, mode="mirror")
    return ndimage.affine_transform(
        source,
        matrix=[1.0 / factors[0], 1.0 / factors[1]],
        output_shape=shape,
        order=3,
        mode="mirror",
        output=np.float32,
    )
