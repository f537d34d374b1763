"""The cover image of an exported package: the test input beside the engine's output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Per-image display range: the same percentiles the preview composites use.
_DISPLAY_PERCENTILES = (0.5, 99.8)


def _display(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, _DISPLAY_PERCENTILES)
    scaled = (image - low) / max(float(high - low), 1e-12)
    return (np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def cover_image(before: np.ndarray, after: np.ndarray, path: Path) -> Path:
    """Write ``before | after`` side by side (2:1, the zoo's cover ratio) as a PNG."""
    side = min(before.shape[0], after.shape[0])
    left = Image.fromarray(_display(before)).resize((side, side))
    right = Image.fromarray(_display(after)).resize((side, side))
    canvas = Image.new("L", (2 * side, side))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (side, 0))
    canvas.save(path)
    return path
