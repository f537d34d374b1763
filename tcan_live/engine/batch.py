"""Checks every compiled backend applies to the tiles it is given."""

from __future__ import annotations

import numpy as np


def checked_batch(tiles: np.ndarray, tile: int, max_batch: int) -> np.ndarray:
    """Return ``tiles`` as contiguous float32 (N, 1, tile, tile) or raise ``ValueError``.

    Compiled engines have a fixed tile and a batch range; a wrong shape would otherwise
    surface as an opaque error deep inside onnxruntime or TensorRT.
    """
    if tiles.ndim != 4 or tiles.shape[1:] != (1, tile, tile):
        raise ValueError(f"engine input shape {tiles.shape}: expected (N, 1, {tile}, {tile})")
    if not 1 <= tiles.shape[0] <= max_batch:
        raise ValueError(f"engine batch {tiles.shape[0]}: expected 1 to {max_batch} tiles")
    return np.ascontiguousarray(tiles, dtype=np.float32)
