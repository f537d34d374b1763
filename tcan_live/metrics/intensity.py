"""Percentile intensity ranges of images and data sets (what the runtime normalises by)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcan_live.metrics.noise import noise_sigma
from tcan_live.model.config import NormalizationSpec

# Below this spread a frame is treated as flat (avoids dividing noise by ~0).
_MIN_SPREAD = 1e-6


@dataclass(frozen=True)
class IntensityRange:
    """The raw intensities that map to 0 and 1."""

    low: float
    high: float

    @property
    def spread(self) -> float:
        """``high - low``, at least a tiny positive number."""
        return max(self.high - self.low, _MIN_SPREAD * max(1.0, abs(self.high)))

    def normalize(self, image: np.ndarray) -> np.ndarray:
        """Map raw intensities to the network's range (float32)."""
        return ((image - np.float32(self.low)) / np.float32(self.spread)).astype(np.float32)

    def denormalize(self, image: np.ndarray) -> np.ndarray:
        """Map network output back to raw intensities (float32)."""
        return (image * np.float32(self.spread) + np.float32(self.low)).astype(np.float32)


def percentile_range(image: np.ndarray, spec: NormalizationSpec) -> IntensityRange:
    """Return the intensities at the spec's low and high percentiles of ``image``.

    With ``spec.noise_floor > 0`` the high value is raised, where needed, to
    ``low + noise_floor * noise_sigma(image)``: a frame whose percentile spread is only a few
    noise sigmas (no signal, or very little) keeps its small amplitude after normalisation.
    """
    low, high = np.percentile(image, [spec.low_percentile, spec.high_percentile])
    low, high = float(low), float(high)
    if spec.noise_floor > 0 and min(np.shape(image)) >= 3:
        high = max(high, low + spec.noise_floor * noise_sigma(np.asarray(image)))
    return IntensityRange(low, high)


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
