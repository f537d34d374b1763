"""How tcan-live images look in napari: channel colours, contrast, scale and the QC overlay.

Shared by the live widget and the store reader so a live preview and the stored image of the
same channel look the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.utils.colormaps import Colormap

from tcan_live.core.colors import is_color, parse_color

# The composite preview scales each channel between these percentiles (preview/publisher.py).
CONTRAST_PERCENTILES = (0.5, 99.8)
# The consistency map is in units of the expected noise: |z| > ~3 is not supported by the
# data, so +-5 spans "fine" (white) to "not supported" (saturated red or blue).
QC_CONTRAST = (-5.0, 5.0)
QC_COLORMAP = "bwr"
QC_OPACITY = 0.6


def channel_colormap(color: object) -> Colormap | str:
    """Return a black-to-colour colormap for a hex ``RRGGBB`` colour (grey when none)."""
    if not isinstance(color, str) or not is_color(color):
        return "gray"
    r, g, b = (value / 255.0 for value in parse_color(color))
    return Colormap([[0.0, 0.0, 0.0, 1.0], [r, g, b, 1.0]], name=f"tcan-{color.upper()}")


def contrast_limits(image: np.ndarray) -> tuple[float, float]:
    """Return display limits from the image's own percentiles, never an empty range."""
    finite = np.asarray(image, dtype=np.float32)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, CONTRAST_PERCENTILES))
    if high <= low:
        high = low + 1.0
    return low, high


def corner_translate(pixel_um: float) -> float:
    """Shift that puts a pixel's corner, not its centre, at the origin.

    napari draws pixel ``i`` centred at ``i * scale``; raw and super-resolved images of one
    field of view share their first pixel's corner, not its centre, so both are shifted by half
    their own pixel to overlay exactly.
    """
    return pixel_um / 2.0


def qc_layer_options() -> dict[str, Any]:
    """Return the napari image options of a consistency (z-map) overlay."""
    return {
        "colormap": QC_COLORMAP,
        "contrast_limits": QC_CONTRAST,
        "opacity": QC_OPACITY,
        "blending": "translucent",
    }
