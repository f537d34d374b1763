"""Input guards: is a frame sampled finely enough to super-resolve, and its pixel size right.

Two independent readings: the stated pixel size against the input resolution (Nyquist: at
most half the PSF's FWHM per pixel), and the finest structure measured in the frame itself
(decorrelation analysis, in pixels). A frame whose finest structures span under
:data:`MIN_STRUCTURE_PX` pixels holds detail down to its sampling limit: its pixels are too
coarse for the optics, whatever the metadata say. The measured size in nanometres, far from
what a confocal can resolve, points to a wrong pixel size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tcan_live.metrics.resolution import decorrelation_resolution

# Measured on simulated confocal frames (250 nm FWHM): 5-8 px at 50 nm pixels, 3.1 px at
# 100 nm, 2.3 px at 200 and 250 nm; on real 248 nm confocal frames 2.4-2.8 px.
MIN_STRUCTURE_PX = 2.85
# Finest structure as a fraction/multiple of the input FWHM that a right pixel size gives.
MIN_STRUCTURE_FWHM = 0.55
MAX_STRUCTURE_FWHM = 4.0
_CROP = 256


def _central_crop(frame: np.ndarray) -> np.ndarray:
    """Return the central crop decorrelation is measured on (its cost grows with the size)."""
    height, width = frame.shape
    top, left = max(0, (height - _CROP) // 2), max(0, (width - _CROP) // 2)
    return frame[top : top + _CROP, left : left + _CROP]


@dataclass(frozen=True)
class SamplingReport:
    """What the guards found: one-line warnings, and the finest structure measured (pixels)."""

    warnings: tuple[str, ...]
    finest_px: float


def check_sampling(frame: np.ndarray, pixel_size_nm: float, input_fwhm_nm: float) -> SamplingReport:
    """Return the guards' findings on ``frame`` (no warnings when its sampling is fine).

    Parameters
    ----------
    frame
        The frame as measured.
    pixel_size_nm
        Its stated pixel size.
    input_fwhm_nm
        The resolution the engine's inputs have (its training PSF's FWHM).
    """
    warnings: list[str] = []
    nyquist_nm = input_fwhm_nm / 2.0
    finest_px = decorrelation_resolution(_central_crop(frame.astype(np.float64)), 1.0)
    if pixel_size_nm > nyquist_nm:
        warnings.append(
            f"undersampled for super-resolution: {pixel_size_nm:g} nm pixels, but a "
            f"{input_fwhm_nm:g} nm confocal resolution needs at most {nyquist_nm:g} nm "
            "(Nyquist); the output cannot hold detail the frame never sampled"
        )
    elif math.isfinite(finest_px) and finest_px < MIN_STRUCTURE_PX:
        warnings.append(
            f"undersampled for super-resolution: its finest structures span {finest_px:.1f} "
            f"pixels (2 is the sampling limit), so {pixel_size_nm:g} nm is not the pixel size "
            f"or the pixels are too coarse for the optics (needs at most {nyquist_nm:g} nm)"
        )
    if math.isfinite(finest_px):
        finest_nm = finest_px * pixel_size_nm
        if finest_nm < MIN_STRUCTURE_FWHM * input_fwhm_nm:
            warnings.append(
                f"pixel size {pixel_size_nm:g} nm puts the finest structures at "
                f"{finest_nm:.0f} nm, finer than the ~{input_fwhm_nm:g} nm a confocal "
                "resolves: the stated pixel size is probably too small (check the metadata)"
            )
        elif finest_nm > MAX_STRUCTURE_FWHM * input_fwhm_nm:
            warnings.append(
                f"pixel size {pixel_size_nm:g} nm puts the finest structures at "
                f"{finest_nm:.0f} nm, over {MAX_STRUCTURE_FWHM:g}x the ~{input_fwhm_nm:g} nm "
                "a confocal resolves: out of focus, or the stated pixel size is too large"
            )
    return SamplingReport(tuple(warnings), finest_px)


class SamplingGuard:
    """Checks a stream's sampling once per pixel size, not on every frame.

    A frame with too little structure to measure (blank, very dim) leaves the check to the
    next frames, up to :data:`ATTEMPTS` of them; warnings are given once.
    """

    ATTEMPTS = 5

    def __init__(self, input_fwhm_nm: float) -> None:
        self.input_fwhm_nm = input_fwhm_nm
        self._attempts: dict[float, int] = {}
        self._warned: set[str] = set()

    def check(self, frame: np.ndarray, pixel_size_nm: float) -> tuple[str, ...]:
        """Return the new warnings for ``frame`` (empty once its pixel size is settled)."""
        attempts = self._attempts.get(pixel_size_nm, 0)
        if attempts >= self.ATTEMPTS:
            return ()
        report = check_sampling(frame, pixel_size_nm, self.input_fwhm_nm)
        measured = math.isfinite(report.finest_px)
        self._attempts[pixel_size_nm] = self.ATTEMPTS if measured else attempts + 1
        new = tuple(warning for warning in report.warnings if warning not in self._warned)
        self._warned.update(new)
        return new
