"""Image sources under evaluation: anything that maps (image, pixel size) to a better image.

An :data:`Enhance` function takes a 2D image and its pixel size and returns the enhanced image
and its pixel size (input pixel size / scale). Three kinds exist: a checkpoint run whole-frame
in torch, a compiled engine (``tcan_live.load_engine``), and the classical baselines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tcan_live.engine.loaded_engine import Engine
from tcan_live.evaluate.baselines import bicubic_upsample, lucy_richardson
from tcan_live.runtime.resample import resample_to_shape

FloatArray = NDArray[np.float32]
Enhance = Callable[[FloatArray, float], tuple[FloatArray, float]]


def runtime_enhancer(engine: Engine) -> Enhance:
    """Evaluate an engine exactly as the daemon runs it, with the result on the input grid.

    The engine resamples each frame to its training pixel size, normalises, tiles and maps
    the output back to the input's intensities; for the comparison with the data set's
    high-resolution images the result is resampled to ``input pixel size / scale`` when the
    data's pixel size differs from the training pixel size.
    """

    def enhance(image: FloatArray, pixel_size_nm: float) -> tuple[FloatArray, float]:
        result = engine.enhance(image, pixel_size_nm=pixel_size_nm)
        target = (image.shape[0] * engine.scale, image.shape[1] * engine.scale)
        return resample_to_shape(result.image, target), pixel_size_nm / engine.scale

    return enhance


def checkpoint_enhancer(path: str | Path) -> Enhance:
    """Run a checkpoint in torch eager mode through the runtime (see :func:`runtime_enhancer`)."""
    return runtime_enhancer(Engine.from_checkpoint(path))


def engine_enhancer(directory: str | Path) -> Enhance:
    """Run an engine built by ``tcan-live build-engine`` (see :func:`runtime_enhancer`)."""
    from tcan_live.engine.load import load_engine

    return runtime_enhancer(load_engine(directory))


def bicubic_enhancer(scale: int) -> Enhance:
    """Cubic-spline upsampling by ``scale``."""

    def enhance(image: FloatArray, pixel_size_nm: float) -> tuple[FloatArray, float]:
        return bicubic_upsample(image, scale), pixel_size_nm / scale

    return enhance


def lucy_richardson_enhancer(psf: NDArray[np.floating], iterations: int, scale: int) -> Enhance:
    """Lucy-Richardson with a known PSF (on the input grid), then bicubic upsampling by scale."""

    def enhance(image: FloatArray, pixel_size_nm: float) -> tuple[FloatArray, float]:
        restored = lucy_richardson(image, psf, iterations)
        return bicubic_upsample(restored, scale), pixel_size_nm / scale

    return enhance


def check_scale(result: FloatArray, image: FloatArray, scale: int, name: str) -> None:
    """Refuse an enhancer output that is not ``scale`` x the input (names the source)."""
    expected = (image.shape[0] * scale, image.shape[1] * scale)
    if result.shape != expected:
        raise ValueError(f"{name}: output shape {result.shape}, expected {expected} (x{scale})")
    if not math.isfinite(float(np.sum(result))):
        raise ValueError(f"{name}: output contains NaN or infinity")
