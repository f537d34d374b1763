"""Frames from a pymmcore-plus multi-dimensional acquisition (``core.mda``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tcan_live.frames import Frame
from tcan_live.sources._metadata import ElapsedClock, um_to_nm
from tcan_live.sources.base import FrameCallback

if TYPE_CHECKING:
    import useq
    from pymmcore_plus import CMMCorePlus

log = logging.getLogger(__name__)

ORIGIN = "pymmcore-plus"


class MMCoreSource:
    """Hands every frame of ``core.mda`` runs to the pipeline.

    Connected to ``core.mda.events.frameReady``, which pymmcore-plus emits on its acquisition
    thread: the handler copies the frame (the core may reuse its buffer), reads (t, channel),
    pixel size and time from the event and metadata, and calls ``emit``. Nothing else runs
    there, so the acquisition never waits for inference.

    Parameters
    ----------
    core
        The core whose MDA runs are followed (``CMMCorePlus`` or ``UniMMCore``).
    pixel_size_nm
        Overrides the pixel size reported by the core.
    default_channel
        Channel name for frames acquired without a channel in the sequence.
    on_error
        Called with a one-line message when a frame cannot be handed over (the acquisition
        goes on); logged when omitted.
    """

    def __init__(
        self,
        core: CMMCorePlus,
        *,
        pixel_size_nm: float | None = None,
        default_channel: str = "default",
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._core = core
        self._on_error = on_error
        self._pixel_size_override = pixel_size_nm
        self._default_channel = default_channel
        self._clock = ElapsedClock()
        self._emit: FrameCallback | None = None

    def start(self, emit: FrameCallback) -> None:
        """Connect to the core's MDA events; frames of runs started from now on go to ``emit``."""
        if self._emit is not None:
            raise RuntimeError("MMCoreSource is already started")
        self._emit = emit
        events = self._core.mda.events
        events.sequenceStarted.connect(self._on_sequence_started)
        events.frameReady.connect(self._on_frame_ready)

    def stop(self) -> None:
        """Disconnect from the core; idempotent."""
        if self._emit is None:
            return
        events = self._core.mda.events
        events.frameReady.disconnect(self._on_frame_ready)
        events.sequenceStarted.disconnect(self._on_sequence_started)
        self._emit = None

    def _on_sequence_started(self, *_: Any) -> None:
        self._clock.anchor()

    def _on_frame_ready(
        self, image: np.ndarray, event: useq.MDAEvent, meta: Mapping[str, Any]
    ) -> None:
        emit = self._emit
        if emit is None:
            return
        try:
            emit(self.to_frame(image, event, meta))
        except Exception as exc:  # never let one frame break the acquisition
            message = f"pymmcore-plus frame {dict(event.index)}: {exc}"
            if self._on_error is not None:
                self._on_error(message)
            else:
                log.error("%s", message)

    def to_frame(self, image: np.ndarray, event: useq.MDAEvent, meta: Mapping[str, Any]) -> Frame:
        """Build the :class:`Frame` for one ``frameReady`` call (copies ``image``)."""
        index = dict(event.index)
        channel = event.channel.config if event.channel is not None else self._default_channel
        return Frame(
            image=np.array(image, copy=True),
            t=int(index.get("t", 0)),
            channel=channel,
            pixel_size_nm=self._pixel_size_nm(meta),
            timestamp=self._clock.timestamp(meta.get("runner_time_ms")),
            origin=ORIGIN,
            metadata={
                "index": {str(k): int(v) for k, v in index.items()},
                "exposure_ms": meta.get("exposure_ms"),
                "camera": meta.get("camera_device"),
                "runner_time_ms": meta.get("runner_time_ms"),
            },
        )

    def _pixel_size_nm(self, meta: Mapping[str, Any]) -> float | None:
        if self._pixel_size_override is not None:
            return self._pixel_size_override
        from_meta = um_to_nm(meta.get("pixel_size_um"))
        return from_meta if from_meta is not None else um_to_nm(self._core.getPixelSizeUm())
