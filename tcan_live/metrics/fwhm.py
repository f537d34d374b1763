"""Bead detection and 2D Gaussian FWHM fits (the papers' resolution measurement on beads).

Peaks are found with ``skimage.feature.peak_local_max`` on a lightly smoothed copy, then each
window of the raw image (default 11 x 11 pixels) is fitted with an elliptical, axis-aligned 2D
Gaussian plus offset by bounded least squares (``curve_fit``, method "trf").
FWHM = 2 sqrt(2 ln 2) sqrt(sigma_x sigma_y) (2.3548 x the geometric-mean sigma).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
MAX_ELONGATION = 1.3


@dataclass(frozen=True)
class BeadFit:
    """One fitted bead: centre (row, column) in pixels, widths and FWHM in nm, amplitude."""

    row: float
    col: float
    sigma_row_px: float
    sigma_col_px: float
    fwhm_nm: float
    amplitude: float
    offset: float


@dataclass(frozen=True)
class FwhmResult:
    """All accepted bead fits of one image, with their mean and sample standard deviation."""

    fits: tuple[BeadFit, ...]

    @property
    def fwhm_nm(self) -> NDArray[np.float64]:
        """FWHM of every accepted bead, nm."""
        return np.array([fit.fwhm_nm for fit in self.fits])

    @property
    def mean_nm(self) -> float:
        """Mean FWHM (NaN when no bead was accepted)."""
        return float(np.mean(self.fwhm_nm)) if self.fits else math.nan

    @property
    def sd_nm(self) -> float:
        """Sample standard deviation of the FWHM (NaN with fewer than two beads)."""
        return float(np.std(self.fwhm_nm, ddof=1)) if len(self.fits) > 1 else math.nan


def detect_beads(
    image: NDArray[np.floating],
    *,
    window: int = 11,
    threshold_rel: float = 0.2,
    smooth_sigma: float = 1.0,
    max_beads: int | None = None,
) -> NDArray[np.int64]:
    """Candidate bead centres (N, 2) as integer (row, column), brightest first.

    Peaks closer than half a window to the border are dropped, and so are peaks with another
    local maximum (above the threshold) within half a window, so every window holds one
    resolved bead. Pairs closer than the resolution look like one peak and stay.
    """
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max

    smooth = gaussian_filter(np.asarray(image, dtype=np.float64), smooth_sigma)
    floor = float(np.median(smooth))
    peaks = np.asarray(
        peak_local_max(  # type: ignore[no-untyped-call]
            smooth - floor, min_distance=2, threshold_rel=threshold_rel, exclude_border=2
        ),
        dtype=np.int64,
    ).reshape(-1, 2)
    half = window // 2
    gaps = np.abs(peaks[:, None, :] - peaks[None, :, :]).max(axis=2)
    np.fill_diagonal(gaps, window)
    isolated = gaps.min(axis=1, initial=window) > half
    inside = np.all((peaks >= half) & (peaks < np.array(smooth.shape) - half), axis=1)
    kept = peaks[isolated & inside]
    return kept[:max_beads] if max_beads is not None else kept


def _gaussian_2d(
    coords: tuple[NDArray[np.float64], NDArray[np.float64]],
    amplitude: float,
    row: float,
    col: float,
    sigma_row: float,
    sigma_col: float,
    offset: float,
) -> NDArray[np.float64]:
    rows, cols = coords
    exponent = ((rows - row) / sigma_row) ** 2 + ((cols - col) / sigma_col) ** 2
    return amplitude * np.exp(-0.5 * exponent) + offset


def fit_bead(
    image: NDArray[np.floating],
    centre: NDArray[np.int64],
    window: int,
    pixel_size_nm: float,
    max_elongation: float = MAX_ELONGATION,
) -> BeadFit | None:
    """Fit a 2D Gaussian plus offset to the ``window``-pixel square around ``centre``.

    Returns ``None`` when the fit fails or the result is implausible (width at a bound,
    centre outside the window's central half, one width over ``max_elongation`` times the
    other). Elliptical widths are fitted along the image axes.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    half = window // 2
    r0, c0 = int(centre[0]) - half, int(centre[1]) - half
    patch = np.asarray(image[r0 : r0 + window, c0 : c0 + window], dtype=np.float64)
    if patch.shape != (window, window):
        return None
    rows, cols = np.mgrid[0:window, 0:window].astype(np.float64)
    low, high = float(patch.min()), float(patch.max())
    if high <= low:
        return None
    guess = (high - low, half, half, 1.5, 1.5, low)
    span = high - low
    lower = (0.0, half - half / 2, half - half / 2, 0.3, 0.3, low - span)
    upper = (3 * span, half + half / 2, half + half / 2, window / 2, window / 2, high)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(
                lambda xy, *p: _gaussian_2d(xy, *p).ravel(),
                (rows, cols),
                patch.ravel(),
                p0=guess,
                bounds=(lower, upper),
                method="trf",
                max_nfev=200,
            )
    except (RuntimeError, ValueError):
        return None
    amplitude, row, col, s_row, s_col, offset = (float(v) for v in params)
    if min(s_row, s_col) <= 0.31 or max(s_row, s_col) >= window / 2 - 0.01:
        return None
    if max(s_row, s_col) / min(s_row, s_col) > max_elongation:
        return None  # two beads closer than the resolution look like one elongated spot
    return BeadFit(
        row=r0 + row,
        col=c0 + col,
        sigma_row_px=s_row,
        sigma_col_px=s_col,
        fwhm_nm=FWHM_PER_SIGMA * math.sqrt(s_row * s_col) * pixel_size_nm,
        amplitude=amplitude,
        offset=offset,
    )


def bead_fwhm(
    image: NDArray[np.floating],
    pixel_size_nm: float,
    *,
    window: int = 11,
    threshold_rel: float = 0.2,
    centres: NDArray[np.int64] | None = None,
    max_beads: int | None = 500,
) -> FwhmResult:
    """Detect beads in ``image`` and fit each with a 2D Gaussian.

    Parameters
    ----------
    image
        A 2D image of sparse point-like objects.
    pixel_size_nm
        Pixel size, to report FWHM in nm.
    window
        Side of the fitted square (odd), pixels; ~11 px at 50 nm covers a confocal bead.
    threshold_rel
        Detection threshold relative to the brightest (smoothed, median-subtracted) peak.
    centres
        Use these integer centres instead of detecting (e.g. the same beads in every image).
    max_beads
        At most this many (brightest) beads are fitted.

    Returns
    -------
    FwhmResult
        Accepted fits; ``mean_nm`` / ``sd_nm`` summarise them.
    """
    if window % 2 == 0 or window < 5:
        raise ValueError(f"window must be an odd number of pixels >= 5, got {window}")
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"bead_fwhm expects a 2D image, got shape {data.shape}")
    if centres is None:
        centres = detect_beads(
            data, window=window, threshold_rel=threshold_rel, max_beads=max_beads
        )
    fits = (fit_bead(data, centre, window, pixel_size_nm) for centre in centres)
    return FwhmResult(tuple(fit for fit in fits if fit is not None))
