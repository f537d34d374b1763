"""What the pipeline needs from the output store, previews and enhancers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from tcan_live.core.acquisition import EnhanceResult, Frame, FrameKey


class RawBacklog(Protocol):
    """Durable storage of raw frames that doubles as the inference backlog."""

    def store_raw(self, frame: Frame) -> bool:
        """Write the raw frame durably (it survives a crash once this returns).

        Returns False when the frame was stored before (a duplicate).
        """
        ...

    def pending(self) -> list[FrameKey]:
        """Keys whose raw frame is stored but whose result is not, in acquisition order."""
        ...

    def load_raw(self, key: FrameKey) -> Frame:
        """Read a stored raw frame back."""
        ...


class PreviewSink(Protocol):
    """Publishes live previews; must never block the caller."""

    def publish(self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any]) -> None:
        """Offer one frame's raw and super-resolved images for preview."""
        ...


class BatchEnhancer(Protocol):
    """A stream's enhancer (see :class:`tcan_live.runtime.Enhancer`)."""

    @property
    def output_pixel_size_nm(self) -> float:
        """Pixel size of every result."""
        ...

    def output_shape(self, shape: tuple[int, ...], pixel_size_nm: float) -> tuple[int, int]:
        """Shape of the result for a frame of ``shape`` at ``pixel_size_nm``."""
        ...

    def check(self, frame: np.ndarray, pixel_size_nm: float | None) -> float:
        """Raise FrameRejected if ``frame`` cannot be enhanced; else return its pixel size."""
        ...

    def enhance_many(
        self, frames: Sequence[tuple[np.ndarray, float | None]]
    ) -> list[EnhanceResult]:
        """Enhance several frames of the stream in order, batching their tiles."""
        ...
