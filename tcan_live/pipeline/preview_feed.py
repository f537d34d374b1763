"""Feeds the preview publisher from the pipeline.

Each frame goes out raw and super-resolved; each time point, once every channel of it is done,
also as a dual-colour composite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tcan_live.core.acquisition import ChannelInfo, EnhanceResult, Frame
from tcan_live.preview.publisher import PreviewPublisher


class PreviewFeed:
    """Adapts pipeline results to :class:`PreviewPublisher` (which never blocks)."""

    def __init__(
        self, publisher: PreviewPublisher, channels: Sequence[ChannelInfo], raw: bool = True
    ) -> None:
        self.publisher = publisher
        self.colors = {channel.name: channel.color for channel in channels}
        self.raw = raw
        self._latest_t: dict[int, dict[str, np.ndarray]] = {}

    def publish(self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any]) -> None:
        """Offer the frame's previews; a composite when its time point is complete."""
        color = self.colors.get(frame.channel)
        common: dict[str, Any] = {
            "t": frame.t,
            "channel": frame.channel,
            "latency_ms": qc.get("latency_ms"),
            "qc": qc,
            "color": color,
            "timestamp": frame.timestamp,
        }
        self.publisher.publish(
            result.image, kind="sr", pixel_size_nm=result.pixel_size_nm, **common
        )
        if self.raw:
            self.publisher.publish(
                frame.image, kind="raw", pixel_size_nm=frame.pixel_size_nm, **common
            )
        if len(self.colors) < 2:
            return
        done = self._latest_t.setdefault(frame.t, {})
        done[frame.channel] = result.image
        if set(done) >= set(self.colors):
            del self._latest_t[frame.t]
            # Older incomplete time points will not complete any more (e.g. a skipped frame).
            for stale in [t for t in self._latest_t if t < frame.t]:
                del self._latest_t[stale]
            self.publisher.publish_composite(
                {name: done[name] for name in self.colors},
                self.colors,
                t=frame.t,
                pixel_size_nm=result.pixel_size_nm,
                latency_ms=qc.get("latency_ms"),
                timestamp=frame.timestamp,
            )
