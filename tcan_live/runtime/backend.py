"""The contract every inference backend (onnxruntime, TensorRT, torch) fulfils."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class InferenceBackend(Protocol):
    """Runs batches of normalised tiles through a compiled network.

    ``run`` takes float32 (N, 1, tile, tile) with ``1 <= N <= max_batch`` and returns float32
    (N, 1, scale * tile, scale * tile). Normalisation, resampling and tiling happen outside, in
    :mod:`tcan_live.runtime`, identically for every backend.
    """

    tile: int
    scale: int
    max_batch: int

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """Super-resolve a batch of tiles."""
        ...

    def close(self) -> None:
        """Release the backend's resources (sessions, GPU memory)."""
        ...
