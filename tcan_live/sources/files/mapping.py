"""Turn frames read from files into pipeline :class:`Frame` objects, checking each one.

(t, channel) come from the configured filename pattern (named groups ``t`` and ``c``), else
from the file's metadata, else t counts the frames seen per channel. Every frame is checked:
dtype, 2D shape consistent with earlier frames of its channel, finite pixels, known channel,
plausible pixel size. A failed check raises :class:`FrameRejected` with what was expected.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from tcan_live.core.acquisition import Frame
from tcan_live.core.frame_check import (
    MAX_TIME_INDEX,
    FrameRejected,
    check_image,
    check_pixel_size,
    check_time_index,
)
from tcan_live.sources.files.file_frame import FileFrame
from tcan_live.sources.kind import SourceSettings

_PATTERN_GROUPS = {"t", "c"}


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a filename pattern: named group ``t`` required, ``c`` optional, no others.

    Raises
    ------
    ValueError
        Saying what is wrong with the pattern.
    """
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    if "t" not in compiled.groupindex:
        raise ValueError("expected a named group (?P<t>...) for the time index")
    unknown = set(compiled.groupindex) - _PATTERN_GROUPS
    if unknown:
        raise ValueError(f"unexpected named groups {sorted(unknown)}: only t and c are used")
    return compiled


class FileMappingSettings(SourceSettings):
    """The ``[source]`` fields of kinds that read files: how a file names its frame."""

    pattern: str | None = None
    """Regex on the file's path relative to the root; named groups t (required) and c."""
    channels: tuple[str, ...] = ()
    """Known channel names; frames of any other channel are refused. Empty: accept any."""
    channel_aliases: dict[str, str] = Field(default_factory=dict)
    """Names found in files or file names -> channel names (e.g. {"0" = "microtubules"})."""

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)
        return value

    def mapper(self) -> FrameMapper:
        """Return the mapper of this source's files (origins prefixed with the kind)."""
        return FrameMapper(
            origin_prefix=self.kind,
            pattern=self.pattern,
            channels=self.channels,
            channel_aliases=self.channel_aliases,
            default_channel=self.default_channel,
            pixel_size_nm=self.pixel_size_nm,
            max_time_index=self.max_time_index,
        )


class FrameMapper:
    """Maps and checks frames; thread-safe (the per-channel counters and shapes are shared).

    Parameters
    ----------
    origin_prefix
        Prefix of every frame's origin (e.g. ``"watch"``).
    pattern
        Filename regex (searched in the path relative to the root, with ``/`` separators).
    channels
        The known channel names; empty accepts any.
    channel_aliases
        Maps names found in files or filenames (e.g. ``"0"``, ``"C1"``) to channel names.
    default_channel
        Channel of frames whose file names none.
    pixel_size_nm
        Overrides the files' pixel size.
    max_time_index
        Time indices at or above this are refused.
    """

    def __init__(
        self,
        *,
        origin_prefix: str,
        pattern: str | None = None,
        channels: Sequence[str] = (),
        channel_aliases: Mapping[str, str] | None = None,
        default_channel: str = "default",
        pixel_size_nm: float | None = None,
        max_time_index: int = MAX_TIME_INDEX,
    ) -> None:
        self._origin_prefix = origin_prefix
        self._max_time_index = max_time_index
        self._pattern = compile_pattern(pattern) if pattern else None
        self._channels = tuple(channels)
        self._aliases = dict(channel_aliases or {})
        self._default_channel = default_channel
        self._pixel_size_override = pixel_size_nm
        self._lock = threading.Lock()
        self._next_t: dict[str, int] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}

    def origin(self, raw: FileFrame, path: Path) -> str:
        """Return the origin a frame read from ``path`` gets (file and position in it)."""
        return f"{self._origin_prefix}:{path}{raw.where}"

    def continue_after(self, keys: Iterable[tuple[int, str]]) -> None:
        """Continue arrival numbering after these (t, channel) keys (a resumed run)."""
        with self._lock:
            for t, channel in keys:
                self._next_t[channel] = max(self._next_t.get(channel, 0), t + 1)

    def to_frame(self, raw: FileFrame, path: Path, relative: str | None = None) -> Frame:
        """Build the checked :class:`Frame` for ``raw`` read from ``path``.

        ``relative`` is the path the filename pattern is matched against (default: the file
        name); the pattern applies to single-frame files only (``raw.where`` empty).
        """
        t, channel = raw.t, raw.channel
        if self._pattern is not None and not raw.where:
            subject = relative if relative is not None else path.name
            match = self._pattern.search(subject)
            if match is None:
                raise FrameRejected(
                    f"file name {subject!r} does not match pattern {self._pattern.pattern!r}"
                )
            t = int(match.group("t"))
            if "c" in self._pattern.groupindex and match.group("c") is not None:
                channel = match.group("c")
        if t is not None:
            check_time_index(t, self._max_time_index)
        channel = self._channel_name(channel)
        image = self._checked_image(raw.image, channel)
        pixel_size = self._pixel_size_nm(raw)
        with self._lock:
            if t is None:
                t = self._next_t.get(channel, 0)
            self._next_t[channel] = max(self._next_t.get(channel, 0), t + 1)
        return Frame(
            image=image,
            t=t,
            channel=channel,
            pixel_size_nm=pixel_size,
            timestamp=raw.timestamp if raw.timestamp is not None else time.time(),
            origin=self.origin(raw, path),
            metadata=dict(raw.metadata),
        )

    def _channel_name(self, found: str | None) -> str:
        name = self._default_channel if found is None else self._aliases.get(found, found)
        if self._channels and name not in self._channels:
            raise FrameRejected(f"unknown channel {name!r}: expected one of {list(self._channels)}")
        return name

    def _checked_image(self, image: np.ndarray, channel: str) -> np.ndarray:
        checked = check_image(image)
        with self._lock:
            expected_shape = self._shapes.setdefault(channel, checked.shape)
        if checked.shape != expected_shape:
            raise FrameRejected(
                f"unexpected shape {checked.shape}: expected {expected_shape} like the earlier "
                f"frames of channel {channel!r}"
            )
        return checked

    def _pixel_size_nm(self, raw: FileFrame) -> float:
        if self._pixel_size_override is not None:
            return self._pixel_size_override
        return check_pixel_size(raw.pixel_size_nm, "the file's metadata")
