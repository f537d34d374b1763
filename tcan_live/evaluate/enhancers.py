"""Image sources under evaluation: anything that maps (image, pixel size) to a better image.

An :data:`Enhance` function takes a 2D image and its pixel size and returns the enhanced image
and its pixel size (input pixel size / scale). Three kinds exist: a checkpoint run whole-frame
in torch, a compiled engine (``tcan_live.load_engine``), and the classical baselines.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tcan_live.evaluate.baselines import bicubic_upsample, lucy_richardson

FloatArray = NDArray[np.float32]
Enhance = Callable[[FloatArray, float], tuple[FloatArray, float]]
RESAMPLE_TOLERANCE = 0.02  # pixel sizes within 2 % of the training size are used as they are


def resample(image: NDArray[np.floating], factor: float | tuple[float, float]) -> FloatArray:
    """Resample by ``factor`` per axis (output side ~ factor x input side), cubic splines."""
    from scipy.ndimage import zoom

    return np.asarray(zoom(np.asarray(image, np.float64), factor, order=3), dtype=np.float32)


def checkpoint_enhancer(path: str | Path) -> Enhance:
    """Whole-frame torch inference with a checkpoint, on the input's own intensity scale.

    The frame is resampled to the checkpoint's training pixel size when it differs by more
    than 2 %, normalised with the checkpoint's percentile spec, passed through the generator,
    mapped back with the same two percentile values and resampled to ``input pixel / scale``.
    """
    import torch

    from tcan_live.metrics.intensity import percentile_range
    from tcan_live.model import load_checkpoint

    checkpoint = load_checkpoint(path)
    meta = checkpoint.meta

    def enhance(image: FloatArray, pixel_size_nm: float) -> tuple[FloatArray, float]:
        ratio = pixel_size_nm / meta.pixel_size_nm
        needs_resampling = abs(ratio - 1.0) > RESAMPLE_TOLERANCE
        frame = resample(image, ratio) if needs_resampling else np.asarray(image, np.float32)
        span = percentile_range(frame, meta.normalization)
        normalised = span.normalise(frame)
        if meta.normalization.clip:
            normalised = np.clip(normalised, 0.0, 1.0)
        with torch.inference_mode():
            output = checkpoint.generator(torch.from_numpy(normalised)[None, None])
        result = span.denormalise(output[0, 0].numpy())
        target_shape = (image.shape[0] * meta.scale, image.shape[1] * meta.scale)
        if result.shape != target_shape:
            factors = (target_shape[0] / result.shape[0], target_shape[1] / result.shape[1])
            result = resample(result, factors)
        return result, pixel_size_nm / meta.scale

    return enhance


def engine_enhancer(directory: str | Path) -> Enhance:
    """Run an engine built by ``tcan-live build-engine`` (via ``tcan_live.load_engine``)."""
    package = importlib.import_module("tcan_live")
    load_engine = getattr(package, "load_engine", None)
    if load_engine is None:
        raise RuntimeError("this tcan-live has no engine runtime (tcan_live.load_engine)")
    engine = load_engine(directory)

    def enhance(image: FloatArray, pixel_size_nm: float) -> tuple[FloatArray, float]:
        result = engine.enhance(image, pixel_size_nm=pixel_size_nm)
        return np.asarray(result.image, dtype=np.float32), float(result.pixel_size_nm)

    return enhance


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
