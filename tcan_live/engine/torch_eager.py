"""Plain torch eager execution of a generator: the reference every engine is compared with."""

from __future__ import annotations

import numpy as np
import torch

from tcan_live.model import TCANGenerator


class TorchEagerBackend:
    """Runs a :class:`TCANGenerator` directly in torch eager mode (fp32 by default).

    It is the baseline of ``tcan-live bench engine`` and the backend tests use to check the
    runtime's tiling, resampling and normalisation against a known network.
    """

    def __init__(
        self,
        generator: TCANGenerator,
        tile: int,
        max_batch: int = 4,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.generator = generator.eval().to(device=device, dtype=dtype)
        self.tile = tile
        self.scale = generator.scale
        self.max_batch = max_batch
        self._device = torch.device(device)
        self._dtype = dtype

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """Super-resolve float32 tiles (N, 1, tile, tile)."""
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))
            out = self.generator(batch.to(device=self._device, dtype=self._dtype))
            return out.float().cpu().numpy()

    def close(self) -> None:
        """Nothing to release."""
