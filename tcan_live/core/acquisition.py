"""What an acquisition is made of, as every layer sees it: frames, keys, channels, layout.

A :class:`Frame` is the unit of work that flows from a source through the pipeline into the
store; :class:`EnhanceResult` is what the runtime makes of it; :class:`AcquisitionLayout` and
:class:`ChannelInfo` describe the output before its first frame is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FrameKey = tuple[int, str]
"""(time index, channel name): identifies a frame within its acquisition."""


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
    problem
        Why the source could not accept the frame (it failed the frame check), or None. An
        acquired frame exists nowhere else, so it is handed over all the same and kept beside
        the store with this reason, never enhanced.
    """

    image: np.ndarray
    t: int
    channel: str
    pixel_size_nm: float | None
    timestamp: float
    origin: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def key(self) -> FrameKey:
        """The (time index, channel) pair that identifies the frame in its acquisition."""
        return (self.t, self.channel)


@dataclass(frozen=True)
class EnhanceResult:
    """A super-resolved frame on the input's intensity scale, and its pixel size."""

    image: np.ndarray
    pixel_size_nm: float


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as it appears in the output.

    Attributes
    ----------
    name
        The channel's name in the acquisition.
    color
        Display colour, hex ``RRGGBB``.
    engine
        Which model super-resolves it (name and checkpoint hash; empty when unknown). A store
        holds one model's results per channel: a restart with another is refused.
    """

    name: str
    color: str
    engine: str = ""


@dataclass(frozen=True)
class AcquisitionLayout:
    """What a sink needs to know before the first frame is written."""

    channels: tuple[ChannelInfo, ...]
    raw_shape: tuple[int, int]
    raw_pixel_size_nm: float
    sr_shape: tuple[int, int]
    sr_pixel_size_nm: float
    raw_dtype: str
    time_increment_s: float | None = None
