"""Frames from a pycromanager ``Acquisition`` through its ``image_process_fn`` hook.

pycromanager calls the hook serially on one thread for every image before saving it; a slow
hook slows the acquisition, and an exception aborts it. The hook therefore returns the image
and metadata untouched (Micro-Manager keeps saving the raw data, in the raw dtype: a changed
dtype hangs the Java backend), copies the pixels, builds a :class:`Frame` from the metadata and
enqueues it, and never raises.

Use::

    source = PycromanagerSource()
    source.start(pipeline.submit)
    with Acquisition(directory, "run", image_process_fn=source.image_process_fn) as acq:
        acq.acquire(events)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from tcan_live.core.acquisition import Frame, Position
from tcan_live.core.frame_check import MAX_TIME_INDEX, checked_or_marked
from tcan_live.sources.kind import SourceContext, SourceKind, SourceSettings
from tcan_live.sources.metadata import ElapsedClock, stage_of, um_to_nm
from tcan_live.sources.protocol import ErrorCallback, FrameCallback

log = logging.getLogger(__name__)

ORIGIN = "pycromanager"

ImageProcessFn = Callable[[np.ndarray, dict[str, Any]], tuple[np.ndarray, dict[str, Any]]]


class PycromanagerSourceConfig(SourceSettings):
    """Frames from a pycromanager ``Acquisition``'s ``image_process_fn``."""

    kind: Literal["pycromanager"]
    time_axis: str = "time"
    channel_axis: str = "channel"
    z_axis: str = "z"
    position_axis: str = "position"
    channel_names: tuple[str, ...] = Field(default=())
    """Names for integer channel positions (position i -> channel_names[i])."""


class PycromanagerSource:
    """A frame source fed by pycromanager's ``image_process_fn``.

    Parameters
    ----------
    pixel_size_nm
        Overrides ``PixelSize_um`` from the metadata.
    default_channel
        Channel name for images without a channel axis.
    time_axis, channel_axis, z_axis, position_axis
        Names of the ``Axes`` entries holding the time index, channel, z slice and position.
    channel_names
        Names for integer channel positions (``Axes["channel"] == 1`` -> ``channel_names[1]``);
        string positions (config names, pycromanager's default) are used as they are.
        A position axis may hold indices or labels (``position_labels``); labels are numbered
        in the order they first arrive and become the positions' names.
    max_time_index
        Frames with a time index at or above this arrive marked (kept, never enhanced).
    first_run
        The run number of the frames from now on (see :meth:`new_acquisition`).
    on_error
        Called with a one-line message when an image's metadata cannot be turned into a frame
        (the image still goes to Micro-Manager untouched); logged when omitted.
    """

    def __init__(
        self,
        *,
        pixel_size_nm: float | None = None,
        default_channel: str = "default",
        time_axis: str = "time",
        channel_axis: str = "channel",
        z_axis: str = "z",
        position_axis: str = "position",
        channel_names: Sequence[str] = (),
        max_time_index: int = MAX_TIME_INDEX,
        first_run: int = 0,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self._max_time_index = max_time_index
        self._z_axis = z_axis
        self._position_axis = position_axis
        self.run = first_run
        self._pixel_size_override = pixel_size_nm
        self._default_channel = default_channel
        self._time_axis = time_axis
        self._channel_axis = channel_axis
        self._channel_names = tuple(channel_names)
        self._on_error = on_error
        self._clock = ElapsedClock()
        self._emit: FrameCallback | None = None
        self.missed = 0  # images that arrived while not started
        self._position_labels: dict[str, int] = {}

    def start(self, emit: FrameCallback) -> None:
        """Deliver the frames the hook sees from now on to ``emit``."""
        self._emit = emit

    def stop(self) -> None:
        """Stop delivering; the hook keeps passing images through to Micro-Manager."""
        self._emit = None

    @property
    def finished(self) -> bool:
        """Never: the script may run another acquisition through the hook."""
        return False

    def new_acquisition(self) -> None:
        """Start a new run: call it between two acquisitions that reuse the same indices.

        pycromanager tells the hook nothing about where one acquisition ends, so a second one
        with the same (t, c, z, p) is told apart only this way (otherwise its frames are kept
        aside as duplicates, never lost).
        """
        self.run += 1
        self._position_labels = {}

    def image_process_fn(
        self, image: np.ndarray, metadata: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Pass the image through untouched and enqueue a copy (``image_process_fn``)."""
        emit = self._emit
        if emit is None:
            self.missed += 1
            return image, metadata
        try:
            emit(self.to_frame(image, metadata))
        except Exception as exc:  # never let a bad image abort the acquisition
            self._report(f"pycromanager image {metadata.get('Axes')!r}: {exc}")
        return image, metadata

    def to_frame(self, image: np.ndarray, metadata: Mapping[str, Any]) -> Frame:
        """Build the checked :class:`Frame` for one image (copies ``image``).

        A frame that fails the frame check comes back marked with its problem (see
        :func:`~tcan_live.core.frame_check.checked_or_marked`), to be kept, not dropped.
        """
        axes = metadata.get("Axes") or {}
        if not isinstance(axes, Mapping):
            raise ValueError(f"expected metadata 'Axes' to be a mapping, got {type(axes).__name__}")
        t = int(axes.get(self._time_axis, 0))
        index, name = self._position_of(axes.get(self._position_axis), metadata)
        position = Position(index=index, run=self.run, name=name, stage_um=stage_of(dict(metadata)))
        pixel_size = self._pixel_size_override
        if pixel_size is None:
            pixel_size = um_to_nm(metadata.get("PixelSize_um"))
        frame = Frame(
            image=np.array(image, copy=True),
            t=t,
            channel=self._channel_name(axes.get(self._channel_axis)),
            pixel_size_nm=pixel_size,
            timestamp=self._clock.timestamp(metadata.get("ElapsedTime-ms")),
            origin=ORIGIN,
            metadata={
                "axes": {str(k): v for k, v in axes.items()},
                "elapsed_ms": metadata.get("ElapsedTime-ms"),
                "camera": metadata.get("Camera"),
                "exposure_ms": metadata.get("Exposure"),
            },
            z=int(axes.get(self._z_axis, 0)),
            position=position,
        )
        what = "source.pixel_size_nm" if self._pixel_size_override else "PixelSize_um"
        return checked_or_marked(frame, what, self._max_time_index)

    def _position_of(self, value: object, metadata: Mapping[str, Any]) -> tuple[int, str]:
        """(index, name) of a position axis value: an index, or a label (``position_labels``).

        Labels are numbered in the order they first arrive, which for pycromanager's events is
        the order of ``xy_positions``.
        """
        named = str(metadata.get("PositionName") or "")
        if value is None:
            return 0, named
        if isinstance(value, str):
            return self._position_labels.setdefault(value, len(self._position_labels)), value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"position {value!r}: expected an index >= 0 or a label")
        return value, named

    def _channel_name(self, position: object) -> str:
        if position is None:
            return self._default_channel
        if isinstance(position, int) and not isinstance(position, bool):
            if self._channel_names:
                if not 0 <= position < len(self._channel_names):
                    raise ValueError(
                        f"channel index {position} outside the configured channel_names "
                        f"{list(self._channel_names)}"
                    )
                return self._channel_names[position]
            return str(position)
        return str(position)

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)
        else:
            log.error(message)


def _build(config: PycromanagerSourceConfig, context: SourceContext) -> PycromanagerSource:
    return PycromanagerSource(
        **config.model_dump(exclude={"kind"}),
        first_run=context.first_run,
        on_error=context.on_error,
    )


KIND = SourceKind("pycromanager", PycromanagerSourceConfig, _build, in_process=True)
