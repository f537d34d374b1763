"""Visible tile seams: the gradient of an image along its tiles' overlaps against elsewhere.

Two readings, both ~1 when tiles blend invisibly: the mean per-pixel gradient across the
overlap columns (rows) over the mean elsewhere, and the same for the image's column (row)
mean profile, which averages the noise away and keeps any step between tiles' levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SeamFigures:
    """Gradient ratios (overlap / elsewhere) per pixel and of the mean profile."""

    pixel_ratio: float
    profile_ratio: float


def _ratios(image: NDArray[np.float64], overlap: NDArray[np.bool_], margin: int) -> SeamFigures:
    """Ratios across columns: ``overlap[i]`` marks columns inside a tile overlap."""
    width = image.shape[1]
    gradient = np.abs(np.diff(image[margin:-margin], axis=1))
    # The difference between columns i - 1 and i belongs to column i.
    columns = np.arange(1, width)
    inside = (columns >= margin) & (columns < width - margin)
    seam, rest = overlap[columns] & inside, ~overlap[columns] & inside
    profile = np.abs(np.diff(image[margin:-margin].mean(axis=0)))
    return SeamFigures(
        pixel_ratio=float(gradient[:, seam].mean() / gradient[:, rest].mean()),
        profile_ratio=float(profile[seam].mean() / profile[rest].mean()),
    )


def seam_figures(
    image: NDArray[np.floating],
    overlap_y: NDArray[np.bool_],
    overlap_x: NDArray[np.bool_],
    *,
    margin: int = 16,
) -> SeamFigures:
    """Return the worse of the row and column seam ratios of ``image``.

    Parameters
    ----------
    image
        The assembled output (e.g. of a flat, noisy frame).
    overlap_y, overlap_x
        Which rows and columns lie in a tile overlap.
    margin
        Pixels left out at the image border.
    """
    data = np.asarray(image, dtype=np.float64)
    across_x = _ratios(data, overlap_x, margin)
    across_y = _ratios(data.T, overlap_y, margin)
    return SeamFigures(
        pixel_ratio=max(across_x.pixel_ratio, across_y.pixel_ratio),
        profile_ratio=max(across_x.profile_ratio, across_y.profile_ratio),
    )
