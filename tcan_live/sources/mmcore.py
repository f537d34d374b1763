"""Frames from a pymmcore-plus multi-dimensional acquisition (``core.mda``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tcan_live.core.acquisition import Frame, Position
from tcan_live.core.frame_check import MAX_TIME_INDEX, checked_or_marked
from tcan_live.core.settings import ConfigError
from tcan_live.sources.core_signals import connect_on_emitting_thread
from tcan_live.sources.kind import SourceContext, SourceKind, SourceSettings
from tcan_live.sources.metadata import ElapsedClock, um_to_nm
from tcan_live.sources.protocol import ErrorCallback, FrameCallback

if TYPE_CHECKING:
    import useq
    from pymmcore_plus import CMMCorePlus

log = logging.getLogger(__name__)

ORIGIN = "pymmcore-plus"


class PymmcorePlusSourceConfig(SourceSettings):
    """Frames from ``core.mda`` runs of a pymmcore-plus core in the same process."""

    kind: Literal["pymmcore-plus"]


class MMCoreSource:
    """Hands every frame of ``core.mda`` runs to the pipeline.

    Connected to ``core.mda.events.frameReady``, which pymmcore-plus emits on its acquisition
    thread; the handler runs there under psygnal and Qt signals alike. It copies the frame (the
    core may reuse its buffer), reads (t, channel), pixel size and time from the event and
    metadata, and calls ``emit``. Nothing else runs there, so the acquisition never waits for
    inference.

    Parameters
    ----------
    core
        The core whose MDA runs are followed (``CMMCorePlus`` or ``UniMMCore``).
    pixel_size_nm
        Overrides the pixel size reported by the core.
    default_channel
        Channel name for frames acquired without a channel in the sequence.
    max_time_index
        Frames with a time index at or above this arrive marked (kept, never enhanced).
    first_run
        The run number of the first MDA seen (a store that already holds runs 0..n-1 gets
        frames of run n); each further MDA is the next run.
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
        max_time_index: int = MAX_TIME_INDEX,
        first_run: int = 0,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self._core = core
        self._max_time_index = max_time_index
        self._next_run = first_run
        self._run = first_run
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
        connect_on_emitting_thread(events.sequenceStarted, self._on_sequence_started)
        connect_on_emitting_thread(events.frameReady, self._on_frame_ready)

    @property
    def finished(self) -> bool:
        """Never: the core may start another MDA at any time."""
        return False

    def stop(self) -> None:
        """Disconnect from the core; idempotent."""
        if self._emit is None:
            return
        events = self._core.mda.events
        events.frameReady.disconnect(self._on_frame_ready)
        events.sequenceStarted.disconnect(self._on_sequence_started)
        self._emit = None

    def _on_sequence_started(self, *_: Any) -> None:
        # Each MDA is a run of its own: a second one on the same core reuses the indices.
        self._run, self._next_run = self._next_run, self._next_run + 1
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
        """Build the checked :class:`Frame` for one ``frameReady`` call (copies ``image``).

        A frame that fails the frame check comes back marked with its problem (see
        :func:`~tcan_live.core.frame_check.checked_or_marked`), to be kept, not dropped.
        """
        index = {str(axis): int(value) for axis, value in event.index.items()}
        channel = event.channel.config if event.channel is not None else self._default_channel
        position = Position(
            index=index.get("p", 0),
            grid=index.get("g", 0),
            run=self._run,
            name=event.pos_name or "",
            stage_um=(event.x_pos, event.y_pos, event.z_pos),
        )
        z_plan = event.sequence.z_plan if event.sequence is not None else None
        step = getattr(z_plan, "step", None)
        frame = Frame(
            image=np.array(image, copy=True),
            t=int(index.get("t", 0)),
            channel=channel,
            pixel_size_nm=self._pixel_size_nm(meta),
            timestamp=self._clock.timestamp(meta.get("runner_time_ms")),
            origin=ORIGIN,
            metadata={
                "index": index,
                "exposure_ms": meta.get("exposure_ms"),
                "camera": meta.get("camera_device"),
                "runner_time_ms": meta.get("runner_time_ms"),
            },
            z=index.get("z", 0),
            position=position,
            z_step_nm=float(step) * 1000.0 if isinstance(step, int | float) and step > 0 else None,
        )
        return checked_or_marked(frame, self._pixel_size_from, self._max_time_index)

    @property
    def _pixel_size_from(self) -> str:
        if self._pixel_size_override is not None:
            return "source.pixel_size_nm"
        return "the frame's metadata or the core's pixel size configuration"

    def _pixel_size_nm(self, meta: Mapping[str, Any]) -> float | None:
        if self._pixel_size_override is not None:
            return self._pixel_size_override
        from_meta = um_to_nm(meta.get("pixel_size_um"))
        return from_meta if from_meta is not None else um_to_nm(self._core.getPixelSizeUm())


def _build(config: PymmcorePlusSourceConfig, context: SourceContext) -> MMCoreSource:
    if context.core is None:
        raise ConfigError(
            "source.kind = 'pymmcore-plus'",
            ["needs the pymmcore-plus core that runs the MDA (Daemon(config, core=core))"],
        )
    return MMCoreSource(
        context.core,
        pixel_size_nm=config.pixel_size_nm,
        default_channel=config.default_channel,
        max_time_index=config.max_time_index,
        first_run=context.first_run,
        on_error=context.on_error,
    )


KIND = SourceKind("pymmcore-plus", PymmcorePlusSourceConfig, _build, in_process=True)
