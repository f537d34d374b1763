"""Percentile normalisation with a checkpoint's :class:`NormalizationSpec` semantics.

The value at ``low_percentile`` maps to 0 and the value at ``high_percentile`` to 1. The trainer
normalises the input (LR) image and the target (HR) image each with its own percentiles, so the
network learns to produce an output whose percentile range is [0, 1]; the runtime maps that back
with the INPUT's two numbers (``output * (hi - lo) + lo``), which puts the result on the input
frame's intensity scale whatever the HR modality's photon counts were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tcan_live.model import NormalizationSpec


def percentile_range(image: NDArray[Any], spec: NormalizationSpec) -> tuple[float, float]:
    """Return the (low, high) intensities of ``image`` at the spec's percentiles.

    A flat image (high == low) gets ``high = low + 1`` so that normalising never divides by 0.
    """
    values = np.asarray(image, dtype=np.float64)
    low, high = np.percentile(values, [spec.low_percentile, spec.high_percentile])
    low, high = float(low), float(high)
    return (low, high) if high > low else (low, low + 1.0)


def normalize_percentile(
    image: NDArray[Any], spec: NormalizationSpec
) -> tuple[NDArray[np.float32], float, float]:
    """Map ``image`` so that its low/high percentiles become 0/1 (float32).

    Returns
    -------
    tuple
        The normalised image and the (low, high) intensities used; values are clipped to
        [0, 1] only when ``spec.clip`` is set.
    """
    low, high = percentile_range(image, spec)
    scaled = ((np.asarray(image, dtype=np.float64) - low) / (high - low)).astype(np.float32)
    if spec.clip:
        np.clip(scaled, 0.0, 1.0, out=scaled)
    return scaled, low, high
