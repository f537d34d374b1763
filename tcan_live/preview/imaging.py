"""Image helpers for previews: area-averaging downsampling and dual-colour composites."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tcan_live.core.colors import parse_color


def downsample_area(image: np.ndarray, max_size: int) -> tuple[np.ndarray, int]:
    """Shrink ``image`` by an integer factor so neither side exceeds ``max_size``.

    Each output pixel is the mean of a ``factor x factor`` block (area averaging, no
    aliasing); trailing rows/columns that do not fill a block are dropped, so the pixel size
    of the result is exactly ``factor`` times the input's.

    Returns
    -------
    tuple
        The downsampled image (same dtype; integers rounded) and the factor (1: unchanged).
    """
    height, width = image.shape[:2]
    factor = max(1, math.ceil(max(height, width) / max_size))
    if factor == 1:
        return image, 1
    rows, cols = height // factor, width // factor
    blocks = image[: rows * factor, : cols * factor].reshape(
        rows, factor, cols, factor, *image.shape[2:]
    )
    mean = blocks.mean(axis=(1, 3), dtype=np.float64)
    if np.issubdtype(image.dtype, np.integer):
        mean = np.rint(mean)
    return mean.astype(image.dtype), factor


def display_scale(image: np.ndarray, low: float = 0.5, high: float = 99.8) -> np.ndarray:
    """Map ``image`` to [0, 1] float32 between its ``low`` and ``high`` percentiles."""
    data = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = np.percentile(data, [low, high])
    if hi <= lo:
        return np.zeros(data.shape, dtype=np.float32)
    return np.clip((data - lo) / (hi - lo), 0.0, 1.0)


def make_composite(images: Sequence[np.ndarray], colors: Sequence[str]) -> np.ndarray:
    """Blend single-channel images additively in their colours into an RGB uint8 image.

    Parameters
    ----------
    images
        2D images of one shape (e.g. microtubules and actin).
    colors
        Hex ``RRGGBB`` colour of each image (magenta ``FF00FF``, cyan ``00FFFF``).
    """
    if not images or len(images) != len(colors):
        raise ValueError(f"composite: {len(images)} images for {len(colors)} colours")
    shape = images[0].shape
    if any(image.shape != shape or image.ndim != 2 for image in images):
        raise ValueError(
            f"composite: images must share one 2D shape, got {[i.shape for i in images]}"
        )
    rgb = np.zeros((*shape, 3), dtype=np.float32)
    for image, color in zip(images, colors, strict=True):
        weights = np.array(parse_color(color), dtype=np.float32) / 255.0
        rgb += display_scale(image)[..., None] * weights
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
