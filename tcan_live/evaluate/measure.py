"""Measure every image source of an evaluation set with the papers' metrics.

Per source and image: bead FWHM (bead data only), SNR (regions from the noise-free HR image,
or from the input for unpaired data, so every source is measured on the same pixels),
decorrelation resolution, MSE/PSNR/SSIM against the noise-free HR image, the error map
(RSE/RSP) of the source against the input, and the live confidence check the daemon runs
(residual over noise, and whether the field is flagged; :mod:`tcan_live.runtime.confidence`).
Sources on a coarser grid than the reference are compared after pixel replication, which adds
no information.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tcan_live.evaluate.dataset import EvalImage, EvalSet
from tcan_live.evaluate.enhancers import Enhance, check_scale
from tcan_live.metrics import (
    bead_fwhm,
    decorrelation_resolution,
    error_map,
    quality,
    regions_from,
    snr,
)
from tcan_live.runtime.confidence import ConfidenceSettings, ConsistencyChecker

FloatArray = NDArray[np.float32]
INPUT, HR = "input", "hr"
PER_IMAGE_KEYS = (
    "snr",
    "decorr_nm",
    "mse",
    "psnr",
    "ssim",
    "rse",
    "rsp",
    "residual_to_noise",
    "flagged",
)


@dataclass
class SourceResult:
    """Measurements of one source over all images."""

    fwhm_nm: list[float] = field(default_factory=list)
    per_image: list[dict[str, float]] = field(default_factory=list)
    # One stream per source, as the daemon checks one channel's frames.
    checker: ConsistencyChecker = field(
        default_factory=lambda: ConsistencyChecker(ConfidenceSettings(), None)
    )

    def summary(self, beads: bool) -> dict[str, float | int | None]:
        """Pooled bead FWHM and per-image means; metrics that never applied are left out."""
        out: dict[str, float | int | None] = {}
        if beads:
            widths = np.array(self.fwhm_nm)
            out["fwhm_nm_mean"] = _json_float(widths.mean()) if widths.size else None
            out["fwhm_nm_sd"] = _json_float(widths.std(ddof=1)) if widths.size > 1 else None
            out["fwhm_count"] = int(widths.size)
        for key in PER_IMAGE_KEYS:
            values = [entry[key] for entry in self.per_image if key in entry]
            if values:
                finite = [v for v in values if math.isfinite(v)]
                out[key] = _json_float(float(np.mean(finite))) if finite else None
        return out


def _json_float(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def to_grid(image: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """Replicate pixels of ``image`` up to ``shape`` (an integer multiple)."""
    factor = shape[0] // image.shape[0]
    return image if factor == 1 else np.kron(image, np.ones((factor, factor), np.float32))


def enhance_all(
    eval_set: EvalSet, enhancers: dict[str, Enhance], scale: int
) -> list[dict[str, tuple[FloatArray, float]]]:
    """Every source's image of every field: ``input``, ``hr`` (if any) and each enhancer."""
    fields = []
    for item in eval_set.images:
        sources: dict[str, tuple[FloatArray, float]] = {INPUT: (item.lr, item.lr_pixel_nm)}
        if item.hr is not None and item.hr_pixel_nm is not None:
            sources[HR] = (item.hr, item.hr_pixel_nm)
        for name, enhance in enhancers.items():
            image, pixel = enhance(item.lr, item.lr_pixel_nm)
            check_scale(image, item.lr, scale, name)
            sources[name] = (image, pixel)
        fields.append(sources)
    return fields


def measure_field(
    item: EvalImage,
    sources: dict[str, tuple[FloatArray, float]],
    results: dict[str, SourceResult],
    *,
    beads: bool,
) -> None:
    """Add one field's measurements of every source to ``results``."""
    grid = max(image.shape for image, _ in sources.values())
    reference = item.gt
    regions = regions_from(reference if reference is not None else to_grid(item.lr, grid))
    for name, (image, pixel) in sources.items():
        result = results.setdefault(name, SourceResult())
        if beads:
            result.fwhm_nm += list(bead_fwhm(image, pixel).fwhm_nm)
        on_grid = to_grid(image, grid)
        entry = {
            "snr": snr(on_grid, regions),
            "decorr_nm": decorrelation_resolution(image, pixel),
        }
        if reference is not None:
            scores = quality(on_grid, reference)
            entry.update(mse=scores.mse, psnr=scores.psnr, ssim=scores.ssim)
        if name != INPUT:
            errors = error_map(item.lr, image)
            entry.update(rse=errors.rse, rsp=errors.rsp)
            checked = result.checker.check(
                item.lr.astype(np.float64), item.lr_pixel_nm, image, item.lr.shape
            )
            entry.update(
                residual_to_noise=checked.residual_to_noise, flagged=float(checked.flagged)
            )
        result.per_image.append(entry)
