"""SQUIRREL-style error map (Culley et al. 2018): how well an SR image explains the data.

The super-resolved image is binned to the reference (diffraction-limited) grid if needed,
blurred by a Gaussian kernel, and mapped by ``alpha x + beta``; sigma is fitted by bounded 1D
minimisation, alpha and beta in closed form (least squares) for each sigma. The error map is
the absolute difference to the reference; RSE is its root mean square (reference units) and
RSP the Pearson correlation between the reference and the blurred, scaled image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ErrorMap:
    """The error map, its summaries and the fitted blur and intensity mapping."""

    map: FloatArray
    rse: float
    rsp: float
    sigma_px: float
    alpha: float
    beta: float


def _fit_affine(source: FloatArray, target: FloatArray) -> tuple[float, float, float]:
    design = np.stack([source.ravel(), np.ones(source.size)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(design, target.ravel(), rcond=None)
    residual = float(np.mean((alpha * source + beta - target) ** 2))
    return float(alpha), float(beta), residual


def pearson(first: NDArray[np.floating], second: NDArray[np.floating]) -> float:
    """Return the Pearson correlation of two same-shape images (NaN if either is flat)."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    spread = float(np.std(a) * np.std(b))
    if not spread:
        return math.nan
    return float(np.mean((a - a.mean()) * (b - b.mean())) / spread)


@dataclass(frozen=True)
class BlurFit:
    """The Gaussian blur and affine intensity mapping that best take an image onto another."""

    sigma_px: float
    alpha: float
    beta: float
    mse: float


def fit_blur(
    reference: NDArray[np.floating],
    image: NDArray[np.floating],
    *,
    min_sigma: float = 0.0,
    max_sigma: float = 8.0,
) -> BlurFit:
    """Fit ``alpha * G_sigma(image) + beta`` to ``reference`` (same grid), least squares.

    Sigma (pixels, within ``[min_sigma, max_sigma]``) by bounded 1D minimisation; alpha and
    beta in closed form for each sigma.
    """
    from scipy.ndimage import gaussian_filter
    from scipy.optimize import minimize_scalar

    ref = np.asarray(reference, dtype=np.float64)
    source = np.asarray(image, dtype=np.float64)

    def loss(sigma: float) -> float:
        return _fit_affine(gaussian_filter(source, sigma, mode="reflect"), ref)[2]

    best = minimize_scalar(loss, bounds=(min_sigma, max_sigma), method="bounded")
    sigma = float(best.x)
    alpha, beta, mse = _fit_affine(gaussian_filter(source, sigma, mode="reflect"), ref)
    return BlurFit(sigma_px=sigma, alpha=alpha, beta=beta, mse=mse)


def error_map(
    reference: NDArray[np.floating], super_resolved: NDArray[np.floating], *, max_sigma: float = 8.0
) -> ErrorMap:
    """Fit blur and intensity mapping of ``super_resolved`` onto ``reference``.

    Parameters
    ----------
    reference
        The diffraction-limited image (e.g. the confocal input).
    super_resolved
        Same grid as ``reference`` or an integer multiple of it (binned by averaging).
    max_sigma
        Largest Gaussian sigma tried, in reference pixels.
    """
    from scipy.ndimage import gaussian_filter

    ref = np.asarray(reference, dtype=np.float64)
    sr = np.asarray(super_resolved, dtype=np.float64)
    factor = sr.shape[0] // ref.shape[0]
    if factor < 1 or sr.shape != (ref.shape[0] * factor, ref.shape[1] * factor):
        raise ValueError(f"super-resolved shape {sr.shape} is not a multiple of {ref.shape}")
    if factor > 1:
        sr = sr.reshape(ref.shape[0], factor, ref.shape[1], factor).mean(axis=(1, 3))

    fit = fit_blur(ref, sr, max_sigma=max_sigma)
    mapped = fit.alpha * gaussian_filter(sr, fit.sigma_px, mode="reflect") + fit.beta
    rsp = pearson(mapped, ref)
    return ErrorMap(
        map=np.abs(ref - mapped),
        rse=math.sqrt(fit.mse),
        rsp=rsp,
        sigma_px=fit.sigma_px,
        alpha=fit.alpha,
        beta=fit.beta,
    )
