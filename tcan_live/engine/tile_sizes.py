"""An engine compiled for several tile sizes: one backend per size behind one backend.

Each compiled network has a fixed tile. With several, the runtime picks per frame the tile whose
plan computes the fewest pixels (:func:`tcan_live.runtime.tiling.choose_tile`) and sends batches
of one size at a time; this backend hands each batch to the network compiled for its size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tcan_live.runtime.backend import InferenceBackend


class TileSizesBackend:
    """Dispatches batches of tiles to the backend compiled for their size.

    Parameters
    ----------
    backends
        Tile size -> its opened backend (same network, scale and batch range); the first entry
        is the manifest's ``tile``.
    """

    def __init__(self, backends: Mapping[int, InferenceBackend]) -> None:
        if not backends:
            raise ValueError("an engine needs at least one tile size")
        self._backends = dict(backends)
        first = next(iter(self._backends.values()))
        self.tile = first.tile
        self.scale = first.scale
        self.max_batch = min(b.max_batch for b in self._backends.values())
        self.tile_sizes = tuple(self._backends)

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """Super-resolve float32 tiles (N, 1, T, T) with the network compiled for T."""
        backend = self._backends.get(int(tiles.shape[-1])) if tiles.ndim == 4 else None
        if backend is None:
            raise ValueError(
                f"engine input shape {tiles.shape}: expected (N, 1, T, T) with T one of "
                f"{self.tile_sizes}"
            )
        return backend.run(tiles)

    def close(self) -> None:
        """Close every tile size's backend."""
        for backend in self._backends.values():
            backend.close()
