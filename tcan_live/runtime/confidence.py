"""Live confidence of one stream: each result checked against the frame it was made from.

Per frame: the result is brought back onto the frame's grid, re-blurred to the input's
resolution and compared with the frame through its own noise model
(:func:`tcan_live.metrics.consistency.consistency_map`). What is fitted once per stream, and
why: the re-blur width (the engine's resolution gain does not change from frame to frame) and
a floor on the intensity scale ``alpha`` (a free per-frame fit would scale an output that
invents structure on a blank frame down to nothing and call it consistent).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import replace

import numpy as np
from pydantic import Field

from tcan_live.core.acquisition import Consistency
from tcan_live.core.settings import FrozenModel
from tcan_live.metrics.consistency import consistency_map
from tcan_live.metrics.error_map import fit_blur
from tcan_live.metrics.noise import NoiseModel, fit_noise_model
from tcan_live.runtime.resample import resample_to_shape

DEFAULT_INPUT_FWHM_NM = 250.0
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
# A frame whose re-blurred result correlates this well with it calibrates the stream.
_CALIBRATION_RSP = 0.5
_ALPHA_HISTORY = 20
_CALIBRATION_ATTEMPTS = 5  # frames tried for the re-blur fit before its physical value stays
_ROUNDING_SIGMA = 1.0 / math.sqrt(12.0)  # noise of rounding to integers


class ConfidenceSettings(FrozenModel):
    """How results are checked against their frames (``[confidence]`` in the daemon config).

    Attributes
    ----------
    enabled
        Compute the consistency map of every frame.
    threshold
        ``|z|`` beyond which a pixel is an outlier (z in units of the allowed deviation).
    max_outlier_fraction
        A frame with more outlier pixels than this fraction is flagged.
    intensity_tolerance
        Intensity error tolerated beside noise, as a fraction of the local signal.
    min_residual_to_noise
        A frame whose result leaves less residual than this fraction of its noise is flagged:
        the result explains the noise itself (structure made of noise). Measured on the
        issue-5 small engines: 1.1-1.9 on simulated cells, 0.36-0.43 on noise-only frames; a
        result equal to its (noisy) input gives about 0.6.
    """

    enabled: bool = True
    threshold: float = Field(5.0, gt=0)
    max_outlier_fraction: float = Field(0.005, ge=0, le=1)
    intensity_tolerance: float = Field(0.1, ge=0, le=1)
    min_residual_to_noise: float = Field(0.5, ge=0)


def _bin_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Average ``image`` onto ``shape`` when it is an integer multiple of it (exact alignment)."""
    factor = image.shape[0] // shape[0]
    if factor > 1 and image.shape == (shape[0] * factor, shape[1] * factor):
        return image.reshape(shape[0], factor, shape[1], factor).mean(axis=(1, 3))
    return image


class ConsistencyChecker:
    """Checks a stream's results against their frames (one per stream, like its enhancer).

    Parameters
    ----------
    settings
        Thresholds and tolerance.
    input_fwhm_nm
        Resolution of the input frames (the engine's ``input_fwhm_nm``; 250 nm if unknown).
    """

    def __init__(self, settings: ConfidenceSettings, input_fwhm_nm: float | None) -> None:
        self.settings = settings
        self.input_fwhm_nm = input_fwhm_nm or DEFAULT_INPUT_FWHM_NM
        self._blur_nm: float | None = None
        self._calibrations_left = _CALIBRATION_ATTEMPTS
        self._alphas: deque[float] = deque(maxlen=_ALPHA_HISTORY)

    @property
    def blur_nm(self) -> float:
        """Re-blur width (Gaussian sigma, nm): fitted on the stream's first usable frame."""
        if self._blur_nm is not None:
            return self._blur_nm
        # Until fitted: the input PSF less an output of half its width.
        return math.sqrt(0.75) * self.input_fwhm_nm / _FWHM_PER_SIGMA

    def check(
        self,
        frame: np.ndarray,
        frame_pixel_nm: float,
        output: np.ndarray,
        matched_shape: tuple[int, int],
        *,
        integer_counts: bool = False,
    ) -> Consistency:
        """Return the consistency of ``output`` with ``frame``.

        Parameters
        ----------
        frame
            The frame as measured (float), on its own grid of ``frame_pixel_nm``.
        output
            The result (input intensity units), on the engine's output grid.
        matched_shape
            The shape the frame was resampled to before inference (the engine's grid).
        integer_counts
            The frame was recorded as integers: its noise is never below their rounding
            (1 / sqrt(12) counts), even where it measures none (a flat or saturated frame).
        """
        reference = frame.astype(np.float64, copy=False)
        on_grid = resample_to_shape(_bin_to(output, matched_shape), reference.shape)
        psf_sigma_px = self.input_fwhm_nm / _FWHM_PER_SIGMA / frame_pixel_nm
        if self._blur_nm is None and self._calibrations_left > 0:
            self._calibrations_left -= 1  # a stream of blank frames keeps the physical width
            self._calibrate(reference, on_grid, frame_pixel_nm)
        figures = consistency_map(
            reference,
            on_grid,
            blur_px=self.blur_nm / frame_pixel_nm,
            smoothing_px=max(psf_sigma_px, 0.7),
            noise=self._noise(reference, integer_counts),
            tolerance=self.settings.intensity_tolerance,
            threshold=self.settings.threshold,
            min_alpha=self._alpha_floor(),
        )
        if figures.rsp >= _CALIBRATION_RSP:
            self._alphas.append(figures.alpha)
        return replace(figures, flag=self._flag(figures))

    def _flag(self, figures: Consistency) -> str:
        settings = self.settings
        if figures.outlier_fraction > settings.max_outlier_fraction:
            return (
                f"{100 * figures.outlier_fraction:.1f} % of pixels disagree with the data "
                f"beyond {settings.threshold:g} sigma (limit "
                f"{100 * settings.max_outlier_fraction:g} %)"
            )
        if figures.residual_to_noise < settings.min_residual_to_noise:
            return (
                f"the result explains the frame's noise (residual {figures.residual_to_noise:.2f}"
                f" x the noise, limit {settings.min_residual_to_noise:g}): structure made of "
                "noise"
            )
        return ""

    @staticmethod
    def _noise(reference: np.ndarray, integer_counts: bool) -> NoiseModel:
        model = fit_noise_model(reference)
        floor = _ROUNDING_SIGMA if integer_counts else 1e-6 * float(np.max(np.abs(reference)))
        return replace(model, floor=max(model.floor, floor, 1e-12))

    def _calibrate(self, reference: np.ndarray, on_grid: np.ndarray, pixel_nm: float) -> None:
        """Fit the re-blur width on a frame with structure; blank frames wait for a later one."""
        guess = self.blur_nm / pixel_nm
        variance = float(np.var(reference))
        if variance == 0.0:
            return
        fit = fit_blur(reference, on_grid, min_sigma=0.3 * guess, max_sigma=3.0 * guess)
        # Explained variance is the squared correlation of the fitted re-blur with the frame.
        if fit.alpha > 0 and 1.0 - fit.mse / variance >= _CALIBRATION_RSP**2:
            self._blur_nm = fit.sigma_px * pixel_nm

    def _alpha_floor(self) -> float:
        """Half the stream's typical alpha; before any calibrating frame, 1 (same scale)."""
        if not self._alphas:
            return 1.0
        return 0.5 * statistics.median(self._alphas)
