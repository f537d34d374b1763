"""The unit of work that flows through the daemon: one acquired 2D frame and its result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One acquired 2D image and where it belongs in the acquisition.

    Attributes
    ----------
    image
        The frame as acquired (uint8, uint16 or float), 2D (Y, X). Sources hand over a copy, so
        the acquisition's own buffer is never touched by the pipeline.
    t
        Time index within the acquisition.
    channel
        Channel name (Micro-Manager channel config, or mapped by the watch-folder config).
    pixel_size_nm
        Physical pixel size, or None where the source does not know it (then the config or
        the command line must supply it).
    timestamp
        Acquisition time in seconds since the epoch, as well as the source knows it.
    origin
        Where the frame came from, e.g. ``"pymmcore-plus"`` or ``"watch:/data/a.tif#3"``.
    metadata
        JSON-serialisable extra metadata from the source.
    """

    image: np.ndarray
    t: int
    channel: str
    pixel_size_nm: float | None
    timestamp: float
    origin: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, str]:
        """The (time index, channel) pair that identifies the frame in its acquisition."""
        return (self.t, self.channel)


@dataclass(frozen=True)
class EnhanceResult:
    """A super-resolved frame on the input's intensity scale, and its pixel size."""

    image: np.ndarray
    pixel_size_nm: float
