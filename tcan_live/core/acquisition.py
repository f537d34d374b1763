"""What an acquisition is made of, as every layer sees it: frames, keys, channels, layout.

A :class:`Frame` is the unit of work that flows from a source through the pipeline into the
store; :class:`EnhanceResult` is what the runtime makes of it, with its :class:`Consistency`;
:class:`AcquisitionLayout` and :class:`ChannelInfo` describe the output before its first frame
is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


class ImageKey(NamedTuple):
    """One image of an acquisition: a stage position (and grid tile) of one run.

    The output holds one image (t, c, z, y, x) per key. ``run`` counts the acquisitions fed to
    one store: a second MDA started on the same core is a new run, so its frames never collide
    with the first one's.
    """

    p: int = 0
    g: int = 0
    run: int = 0


class FrameKey(NamedTuple):
    """Identifies a frame within its acquisition: time, channel, z slice, position, tile, run.

    Exactly the indices Micro-Manager / useq report (``t``, ``c``, ``z``, ``p``, ``g``); axes a
    source does not have are 0.
    """

    t: int
    channel: str
    z: int = 0
    p: int = 0
    g: int = 0
    run: int = 0

    @property
    def image(self) -> ImageKey:
        """The image (position, tile, run) the frame belongs to."""
        return ImageKey(self.p, self.g, self.run)

    def describe(self) -> str:
        """``t=3 channel 'actin'``, with ``z``, ``p``, ``g``, ``run`` where they are not 0."""
        extra = "".join(
            f" {axis}={value}"
            for axis, value in (("z", self.z), ("p", self.p), ("g", self.g), ("run", self.run))
            if value
        )
        return f"t={self.t} channel {self.channel!r}{extra}"


@dataclass(frozen=True)
class Position:
    """Where on the sample a frame was acquired, as the acquisition reports it.

    Attributes
    ----------
    index
        The position index ``p`` (0 without positions).
    grid
        The grid tile index ``g`` (0 without a grid).
    run
        Which acquisition fed to the store (see :class:`ImageKey`).
    name
        The position's name in the acquisition (e.g. a useq ``Position.name``), or empty.
    stage_um
        Stage (x, y, z) of the position or tile in micrometres, where known.
    """

    index: int = 0
    grid: int = 0
    run: int = 0
    name: str = ""
    stage_um: tuple[float | None, float | None, float | None] | None = None

    @property
    def key(self) -> ImageKey:
        """The image this position's frames go to."""
        return ImageKey(self.index, self.grid, self.run)


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
    z
        The z slice index (0 without a z-stack).
    position
        The stage position, grid tile and run (defaults: the one position of a t x c run).
    z_step_nm
        Distance between z slices, where the source knows it (e.g. the MDA's z plan).
    """

    image: np.ndarray
    t: int
    channel: str
    pixel_size_nm: float | None
    timestamp: float
    origin: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None
    z: int = 0
    position: Position = field(default_factory=Position)
    z_step_nm: float | None = None

    @property
    def key(self) -> FrameKey:
        """The indices that identify the frame in its acquisition."""
        p = self.position
        return FrameKey(self.t, self.channel, self.z, p.index, p.grid, p.run)


@dataclass(frozen=True)
class Consistency:
    """How far a result agrees with the frame it was made from (its live confidence).

    Attributes
    ----------
    map
        float32 z-scores on the input frame's grid: the measured frame minus the result
        re-blurred to the input's resolution, in units of what noise and the intensity
        tolerance allow (negative: the result shows what the data do not; positive: it lost
        what they show).
    rsp, rse
        Pearson correlation and RMS difference (input units) of the re-blurred result and the
        frame.
    z_rms
        RMS of ``map``: about 1 where the data support the result.
    residual_to_noise
        What the re-blurred result leaves unexplained, relative to the frame's noise: about 1
        when it explains the frame up to noise; well below 1 when it explains the noise too.
    outlier_fraction
        Fraction of pixels beyond the threshold.
    alpha
        The intensity scale used to map the re-blurred result onto the frame.
    flag
        Why the frame is flagged, in one line; empty when it is not.
    """

    map: np.ndarray
    rsp: float
    rse: float
    z_rms: float
    residual_to_noise: float
    outlier_fraction: float
    alpha: float
    flag: str = ""

    @property
    def flagged(self) -> bool:
        """Whether the result disagrees with the frame beyond the configured limits."""
        return bool(self.flag)

    def summary(self) -> dict[str, float | bool | str]:
        """Return the figures (not the map) as the QC record and previews carry them."""
        return {
            "consistency_rsp": self.rsp,
            "consistency_rse": self.rse,
            "consistency_z_rms": self.z_rms,
            "residual_to_noise": self.residual_to_noise,
            "outlier_fraction": self.outlier_fraction,
            "flagged": self.flagged,
            "flag": self.flag,
        }


@dataclass(frozen=True)
class EnhanceResult:
    """A super-resolved frame on the input's intensity scale, and its pixel size.

    ``consistency`` is present when the stream checks its results against their frames;
    ``warnings`` are one-line findings about the input (e.g. undersampled), given with the
    first frame they apply to.
    """

    image: np.ndarray
    pixel_size_nm: float
    consistency: Consistency | None = None
    warnings: tuple[str, ...] = ()


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
    z_step_nm: float | None = None
