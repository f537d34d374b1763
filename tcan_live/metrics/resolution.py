"""Image resolution from the image itself: decorrelation analysis and Fourier ring correlation.

Both wrap the ``cubic`` package (Descloux et al. 2019 decorrelation; FRC with a single-image
checkerboard split or two independent images). A curve without a usable peak or crossing is a
failure and is reported as NaN, never as 0 or infinity.
"""

from __future__ import annotations

import math
import warnings
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

SPURIOUS_FIELD_FRACTION = 10


def _spectral() -> ModuleType:
    with warnings.catch_warnings():
        # cubic warns on import when CuPy is absent; the CPU path is the one we want.
        warnings.filterwarnings("ignore", message="CuPy or CuCIM is not installed")
        from cubic.metrics import spectral

    return spectral


def _finite_or_nan(value: object) -> float:
    result = float(value)  # type: ignore[arg-type]
    return result if math.isfinite(result) and result > 0 else math.nan


def decorrelation_resolution(image: NDArray[np.floating], pixel_size_nm: float) -> float:
    """Resolution (nm) by decorrelation analysis of one image (Descloux et al. 2019).

    Parameters
    ----------
    image
        A 2D image with noise (decorrelation needs noise to find the cut-off; on noise-free
        images it is unreliable).
    pixel_size_nm
        Pixel size.

    Returns
    -------
    float
        The period at the estimated cut-off frequency, in nm; NaN when no peak is found or
        the peak implies a period longer than a tenth of the image's shorter side.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"decorrelation_resolution expects a 2D image, got shape {data.shape}")
    if not np.isfinite(data).all() or float(data.std()) == 0.0:
        return math.nan
    resolution = _finite_or_nan(_spectral().dcr_resolution(data, spacing=pixel_size_nm))
    # A "peak" within the lowest frequencies (a period over a tenth of the field) is the
    # spurious near-DC maximum that very noisy, sparse images give, not a resolution.
    if resolution > min(data.shape) * pixel_size_nm / SPURIOUS_FIELD_FRACTION:
        return math.nan
    return resolution


def frc_resolution(
    image: NDArray[np.floating],
    pixel_size_nm: float,
    second: NDArray[np.floating] | None = None,
) -> float:
    """Fourier ring correlation resolution (nm), 1/7 threshold.

    With ``second`` the two images must be independent acquisitions of the same field; without
    it the image is split into checkerboard sub-images. NaN when the curve never crosses.
    """
    data = np.asarray(image, dtype=np.float64)
    other = None if second is None else np.asarray(second, dtype=np.float64)
    if other is not None and other.shape != data.shape:
        raise ValueError(f"FRC images differ in shape: {data.shape} vs {other.shape}")
    return _finite_or_nan(_spectral().frc_resolution(data, other, spacing=pixel_size_nm))
