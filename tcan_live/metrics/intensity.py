"""Percentile intensity statistics of data sets (the normalisation itself: runtime)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from tcan_live.model.config import NormalizationSpec
from tcan_live.runtime.normalize import IntensityRange, percentile_range

__all__ = ["IntensityRange", "percentile_range", "percentile_statistics"]


def percentile_statistics(
    images: Iterable[NDArray[np.floating]], spec: NormalizationSpec | None = None
) -> dict[str, float]:
    """Summaries of per-image percentile ranges over a data set (for data descriptions).

    Returns the medians and extremes of the per-image low and high values, so a data set whose
    images have very different intensity ranges is visible before training.
    """
    spec = spec or NormalizationSpec()
    ranges = [percentile_range(np.asarray(image), spec) for image in images]
    if not ranges:
        raise ValueError("percentile_statistics needs at least one image")
    lows = np.array([r.low for r in ranges])
    highs = np.array([r.high for r in ranges])
    return {
        "images": float(len(ranges)),
        "low_median": float(np.median(lows)),
        "low_min": float(lows.min()),
        "high_median": float(np.median(highs)),
        "high_max": float(highs.max()),
        "high_min": float(highs.min()),
    }
