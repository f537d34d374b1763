"""Test helpers: tiny real models and analytic test images (no mocks of project code)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.model import TCANGenerator, build_generator, save_checkpoint

TINY: dict[str, Any] = {"unet_base": 4, "dfcan_features": 8, "dfcan_groups": 1, "stem_channels": 8}


def tiny_generator(scale: int = 1, **overrides: Any) -> TCANGenerator:
    """A small-preset generator shrunk further, for fast tests."""
    return build_generator("small", scale, **{**TINY, **overrides})


def tiny_checkpoint(path: Path, scale: int = 1, pixel_size_nm: float = 50.0) -> Path:
    return save_checkpoint(path, tiny_generator(scale), pixel_size_nm=pixel_size_nm)


class ArrayFunctionBackend:
    """An inference backend computing a known array function (exact expectations in tests)."""

    def __init__(
        self, function: Callable[[np.ndarray], np.ndarray], tile: int, scale: int, max_batch: int
    ) -> None:
        self.function, self.tile, self.scale, self.max_batch = function, tile, scale, max_batch
        self.batches: list[int] = []

    def run(self, tiles: np.ndarray) -> np.ndarray:
        assert tiles.shape[1:] == (1, self.tile, self.tile) and len(tiles) <= self.max_batch
        self.batches.append(len(tiles))
        return self.function(tiles).astype(np.float32)

    def close(self) -> None:
        pass


def filament_image(
    shape: tuple[int, int],
    pixel_size_nm: float,
    seed: int = 0,
    count: int = 12,
    fwhm_nm: float = 250.0,
) -> np.ndarray:
    """Analytic image of smooth curved filaments as a confocal sees them (Gaussian profile,
    ``fwhm_nm``), sampled at pixel centres x = i * pixel_size_nm, so renderings at different
    pixel sizes share coordinates.
    """
    rng = np.random.default_rng(seed)
    height, width = shape[0] * pixel_size_nm, shape[1] * pixel_size_nm
    yy, xx = np.meshgrid(
        np.arange(shape[0]) * pixel_size_nm, np.arange(shape[1]) * pixel_size_nm, indexing="ij"
    )
    image = np.zeros(shape, dtype=np.float64)
    sigma = fwhm_nm / 2.3548
    for _ in range(count):
        t = np.linspace(0.0, 1.0, 200)
        start = rng.uniform([0, 0], [height, width])
        direction = rng.normal(size=2)
        direction *= max(height, width) / np.linalg.norm(direction)
        bend = rng.normal(size=2) * 0.25 * max(height, width)
        points = start + np.outer(t, direction) + np.outer(np.sin(np.pi * t), bend)
        for py, px in points[::4]:
            image += np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2 * sigma**2))
    return (image / max(image.max(), 1e-9)).astype(np.float32)
