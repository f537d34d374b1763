"""Feeds the preview publisher from the pipeline.

Each frame goes out raw and super-resolved, on its image's topics (the first image's topics
carry no suffix: ``sr/actin``; another position's do: ``sr/actin/p1``). A z-stack shows as its
current slice and, when asked, as a running maximum projection of the time point's slices so
far (``mip/<channel>``). A result checked against its frame also sends its consistency map
(``qc/<channel>``, on the frame's grid). Once every channel of a (time point, slice) is done, the
channels also go out as one colour composite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tcan_live.core.acquisition import ChannelInfo, EnhanceResult, Frame, ImageKey
from tcan_live.preview.protocol import image_label
from tcan_live.preview.publisher import PreviewPublisher

_Slot = tuple[ImageKey, int, int]  # image, t, z


class PreviewFeed:
    """Adapts pipeline results to :class:`PreviewPublisher` (which never blocks).

    Parameters
    ----------
    publisher
        Where previews go.
    channels
        The acquisition's channels, with their display colours.
    raw
        Also publish the raw frames.
    z_projection
        Also publish a running maximum projection over z of each time point.
    """

    def __init__(
        self,
        publisher: PreviewPublisher,
        channels: Sequence[ChannelInfo],
        raw: bool = True,
        z_projection: bool = False,
    ) -> None:
        self.publisher = publisher
        self.colors = {channel.name: channel.color for channel in channels}
        self.raw = raw
        self.z_projection = z_projection
        self._waiting: dict[_Slot, dict[str, np.ndarray]] = {}
        self._projections: dict[tuple[ImageKey, str], tuple[int, np.ndarray]] = {}

    def publish(self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any]) -> None:
        """Offer the frame's previews; a composite when its (time point, slice) is complete."""
        key = frame.key
        index = {
            "image": image_label(key.image),
            "p": key.p,
            "z": key.z,
            "g": key.g,
            "run": key.run,
            "position": frame.position.name,
        }
        common: dict[str, Any] = {
            "t": frame.t,
            "channel": frame.channel,
            "latency_ms": qc.get("latency_ms"),
            "qc": qc,
            "color": self.colors.get(frame.channel),
            "timestamp": frame.timestamp,
            "index": index,
        }
        self.publisher.publish(
            result.image, kind="sr", pixel_size_nm=result.pixel_size_nm, **common
        )
        if self.raw:
            self.publisher.publish(
                frame.image, kind="raw", pixel_size_nm=frame.pixel_size_nm, **common
            )
        if result.consistency is not None:
            self.publisher.publish(
                result.consistency.map, kind="qc", pixel_size_nm=frame.pixel_size_nm, **common
            )
        if self.z_projection:
            projection = self._project(key.image, frame.channel, frame.t, result.image)
            self.publisher.publish(
                projection, kind="mip", pixel_size_nm=result.pixel_size_nm, **common
            )
        if len(self.colors) >= 2:
            self._composite(frame, result, qc, index)

    def _project(self, image: ImageKey, channel: str, t: int, plane: np.ndarray) -> np.ndarray:
        """Return the maximum over the slices of time point ``t`` so far (a new t restarts)."""
        last = self._projections.get((image, channel))
        projection = plane if last is None or last[0] != t else np.maximum(last[1], plane)
        self._projections[(image, channel)] = (t, projection)
        return projection

    def _composite(
        self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any], index: dict[str, Any]
    ) -> None:
        slot = (frame.key.image, frame.t, frame.z)
        done = self._waiting.setdefault(slot, {})
        done[frame.channel] = result.image
        if set(done) < set(self.colors):
            return
        del self._waiting[slot]
        # Older incomplete slots of this image will not complete any more (e.g. a skipped
        # frame, or a channel acquired at every other time point only).
        for stale in [s for s in self._waiting if s[0] == slot[0] and s[1:] < slot[1:]]:
            del self._waiting[stale]
        self.publisher.publish_composite(
            {name: done[name] for name in self.colors},
            self.colors,
            t=frame.t,
            pixel_size_nm=result.pixel_size_nm,
            latency_ms=qc.get("latency_ms"),
            timestamp=frame.timestamp,
            index=index,
        )
