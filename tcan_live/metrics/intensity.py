"""Percentile intensity statistics and the percentile normalisation stored in checkpoints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcan_live.model.config import NormalizationSpec


@dataclass(frozen=True)
class PercentileRange:
    """The intensities at the low and high percentiles of an image or a data set."""

    low: float
    high: float

    def normalise(self, image: NDArray[np.floating]) -> NDArray[np.float32]:
        """Map ``low`` to 0 and ``high`` to 1."""
        span = self.high - self.low if self.high > self.low else 1.0
        return ((np.asarray(image, dtype=np.float32) - self.low) / span).astype(np.float32)

    def denormalise(self, image: NDArray[np.floating]) -> NDArray[np.float32]:
        """Inverse of :meth:`normalise`."""
        span = self.high - self.low if self.high > self.low else 1.0
        return (np.asarray(image, dtype=np.float32) * span + self.low).astype(np.float32)


def percentile_range(
    image: NDArray[np.floating], spec: NormalizationSpec | None = None
) -> PercentileRange:
    """Intensities at ``spec``'s low and high percentiles of one image."""
    spec = spec or NormalizationSpec()
    low, high = np.percentile(np.asarray(image), (spec.low_percentile, spec.high_percentile))
    return PercentileRange(float(low), float(high))


def percentile_statistics(
    images: Iterable[NDArray[np.floating]], spec: NormalizationSpec | None = None
) -> dict[str, float]:
    """Summaries of per-image percentile ranges over a data set (for data descriptions).

    Returns the medians and extremes of the per-image low and high values, so a data set whose
    images have very different intensity ranges is visible before training.
    """
    ranges = [percentile_range(image, spec) for image in images]
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
