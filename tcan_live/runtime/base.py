"""The contract of the frame enhancer: any 2D frame in, super-resolved frame out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tcan_live.frames import EnhanceResult


class FrameEnhancer(Protocol):
    """Turns one 2D frame (any dtype, any size, any pixel size) into its super-resolved image.

    Implementations resample to the engine's training pixel size, normalise intensities, tile,
    run the engine and return the result on the input's intensity scale. A stateful
    normalisation mode (``running``) makes one enhancer per channel stream necessary.
    """

    def enhance(self, frame: np.ndarray, pixel_size_nm: float | None = None) -> EnhanceResult:
        """Super-resolve ``frame`` whose pixels are ``pixel_size_nm`` wide."""
        ...
