"""Turning frames into super-resolved frames: resampling, normalisation, tiling, engines."""

from tcan_live.runtime.engine import Engine, load_engine
from tcan_live.runtime.enhancer import Enhancer, FrameError, PixelSizePolicy

__all__ = ["Engine", "Enhancer", "FrameError", "PixelSizePolicy", "load_engine"]
