"""Sub-pixel registration of image pairs: cross-correlation plus a Gaussian fit of its peak.

As in Wang et al. 2019 for real confocal/STED pairs: the integer peak of the (FFT) cross-
correlation of the mean-subtracted images is refined along each axis by the vertex of a
Gaussian through the peak and its two neighbours (a parabola through their logarithms).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _gaussian_vertex(left: float, centre: float, right: float) -> float:
    if min(left, centre, right) <= 0:
        return 0.0
    a, b, c = math.log(left), math.log(centre), math.log(right)
    curvature = a - 2 * b + c
    return 0.0 if curvature >= 0 else 0.5 * (a - c) / curvature


def register_translation(
    reference: NDArray[np.floating], moving: NDArray[np.floating]
) -> tuple[float, float]:
    """Shift (rows, columns) that maps ``moving`` onto ``reference``.

    ``shift_image(moving, register_translation(reference, moving))`` is aligned with
    ``reference``. Both images must have the same shape (resample an LR image first).
    """
    ref = np.asarray(reference, dtype=np.float64)
    mov = np.asarray(moving, dtype=np.float64)
    if ref.shape != mov.shape or ref.ndim != 2:
        raise ValueError(f"registration needs two 2D images of one shape: {ref.shape}, {mov.shape}")
    spectrum = np.fft.rfft2(ref - ref.mean()) * np.conj(np.fft.rfft2(mov - mov.mean()))
    correlation = np.fft.irfft2(spectrum, s=ref.shape)
    peak = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
    shift = []
    for axis, size in enumerate(correlation.shape):
        index = list(peak)
        values = []
        for step in (-1, 0, 1):
            index[axis] = (peak[axis] + step) % size
            values.append(float(correlation[tuple(index)]))
        whole = peak[axis] if peak[axis] <= size // 2 else peak[axis] - size
        shift.append(whole + _gaussian_vertex(*values))
    return shift[0], shift[1]


def shift_image(image: NDArray[np.floating], shift: tuple[float, float]) -> FloatArray:
    """Translate ``image`` by a sub-pixel ``shift`` (rows, columns) with a Fourier phase ramp."""
    data = np.asarray(image, dtype=np.float64)
    rows = np.fft.fftfreq(data.shape[0])[:, None]
    cols = np.fft.rfftfreq(data.shape[1])[None, :]
    ramp = np.exp(-2j * np.pi * (rows * shift[0] + cols * shift[1]))
    return np.asarray(np.fft.irfft2(np.fft.rfft2(data) * ramp, s=data.shape))


def align_pair(
    lr: NDArray[np.floating], hr: NDArray[np.floating]
) -> tuple[FloatArray, tuple[float, float]]:
    """Register an HR image onto its LR partner (e.g. a real confocal/STED pair).

    The LR image is brought to the HR grid by cubic interpolation for the correlation only;
    the HR image is shifted (Fourier phase ramp) onto it. Returns the aligned HR image and
    the applied shift in HR pixels.
    """
    from scipy.ndimage import zoom

    low = np.asarray(lr, dtype=np.float64)
    high = np.asarray(hr, dtype=np.float64)
    factor = high.shape[0] / low.shape[0]
    if factor < 1 or high.shape[1] != round(low.shape[1] * factor):
        raise ValueError(f"HR shape {high.shape} is not a multiple of LR shape {low.shape}")
    if factor != 1:
        # Centre-aligned resampling: LR pixel centres sit at HR coordinates (f - 1) / 2 + f i.
        low = zoom(low, factor, order=3, grid_mode=True, mode="grid-mirror")
    shift = register_translation(low, high)
    return shift_image(high, shift), shift
