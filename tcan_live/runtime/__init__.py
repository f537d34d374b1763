"""Frames to super-resolved frames: pixel-size matching, normalisation, tiling, enhancement.

The runtime runs any :class:`~tcan_live.runtime.backend.InferenceBackend`; engines
(:mod:`tcan_live.engine`) provide the backends and wrap them with it.
"""

from tcan_live.runtime.confidence import ConfidenceSettings
from tcan_live.runtime.enhancer import Enhancer, PixelSizePolicy

__all__ = ["ConfidenceSettings", "Enhancer", "PixelSizePolicy"]
