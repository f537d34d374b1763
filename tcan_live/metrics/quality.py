"""MSE, PSNR and SSIM against a reference, with one documented intensity normalisation.

Reference: the noise-free high-resolution image where one exists (simulated ground truth);
a noisy STED image as reference would reward reproducing its noise.

Normalisation (as in CARE, Weigert et al. 2018): the reference is mapped by its own 0.1 and
99.9 percentiles to about [0, 1]; each candidate is then mapped by the affine transform
``a x + b`` that minimises its squared error to the normalised reference. Every method is thus
judged at its best intensity calibration, and neither an arbitrary output scale nor noise
(which stretches a min-max range and so compresses the structure) decides the ranking.
PSNR and SSIM use ``data_range = 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
REFERENCE_PERCENTILES = (0.1, 99.9)


@dataclass(frozen=True)
class Quality:
    """Full-reference scores of one image."""

    mse: float
    psnr: float
    ssim: float


def normalise_reference(reference: NDArray[np.floating]) -> FloatArray:
    """Map the reference's 0.1 / 99.9 percentiles to 0 / 1."""
    data = np.asarray(reference, dtype=np.float64)
    low, high = np.percentile(data, REFERENCE_PERCENTILES)
    if high <= low:
        raise ValueError("reference image is flat; it cannot serve as a reference")
    return (data - low) / (high - low)


def fit_to_reference(image: NDArray[np.floating], target: FloatArray) -> FloatArray:
    """Affine map ``a image + b`` closest (least squares) to ``target``."""
    data = np.asarray(image, dtype=np.float64)
    design = np.stack([data.ravel(), np.ones(data.size)], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(design, target.ravel(), rcond=None)
    return np.asarray(gain * data + offset)


def quality(image: NDArray[np.floating], reference: NDArray[np.floating]) -> Quality:
    """MSE, PSNR (dB) and SSIM of ``image`` against ``reference`` after normalisation.

    Parameters
    ----------
    image
        The image to score, on the reference's grid.
    reference
        Preferably noise-free ground truth.
    """
    from skimage.metrics import structural_similarity

    if np.shape(image) != np.shape(reference):
        raise ValueError(f"image {np.shape(image)} and reference {np.shape(reference)} differ")
    target = normalise_reference(reference)
    fitted = fit_to_reference(image, target)
    mse = float(np.mean((fitted - target) ** 2))
    psnr = 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf
    ssim = float(structural_similarity(fitted, target, data_range=1.0))  # type: ignore[no-untyped-call]
    return Quality(mse=mse, psnr=psnr, ssim=ssim)
