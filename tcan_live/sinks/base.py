"""The contract of frame sinks (OME-Zarr store, ...), after pymmcore-plus's writers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tcan_live.core.acquisition import AcquisitionLayout, EnhanceResult, Frame


class FrameSink(Protocol):
    """Receives enhanced frames: ``setup`` once, ``append``/``skip`` per frame, ``close``."""

    def setup(self, layout: AcquisitionLayout) -> None:
        """Prepare the output for an acquisition with this layout."""
        ...

    def append(self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any]) -> None:
        """Store one raw frame's super-resolved result and its live QC figures."""
        ...

    def skip(self, frame: Frame, reason: str) -> None:
        """Record that ``frame`` could not be enhanced, and why (the raw frame is kept)."""
        ...

    def close(self) -> None:
        """Flush everything and release the output; idempotent."""
        ...
