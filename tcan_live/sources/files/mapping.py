"""Turn frames read from files into pipeline :class:`Frame` objects, checking each one.

(t, channel, z, p, g) come from the configured filename pattern (named groups ``t``, ``c``,
``z``, ``p``, ``g``), else from the file's metadata, else 0; a time index found in neither counts
the frames seen per (channel, z, position, tile). Every frame is checked:
dtype, 2D shape consistent with earlier frames of its channel, finite pixels, known channel,
plausible pixel size. A failed check raises :class:`FrameRejected` with what was expected.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from tcan_live.core.acquisition import Frame, FrameKey, Position
from tcan_live.core.frame_check import (
    MAX_TIME_INDEX,
    FrameRejected,
    check_image,
    check_indices,
    check_pixel_size,
)
from tcan_live.sources.files.file_frame import FileFrame
from tcan_live.sources.kind import SourceSettings

_PATTERN_GROUPS = {"t", "c", "z", "p", "g"}


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a filename pattern: named groups ``t``, ``c``, ``z``, ``p``, ``g``; an index needed.

    At least one of ``t``, ``z``, ``p``, ``g`` must be there (a z-stack named only by its slices
    is fine: its time index comes from the metadata or counts).

    Raises
    ------
    ValueError
        Saying what is wrong with the pattern.
    """
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    if not {"t", "z", "p", "g"} & set(compiled.groupindex):
        raise ValueError(
            "expected a named group for an index: (?P<t>...) for the time index, or z, p, g"
        )
    unknown = set(compiled.groupindex) - _PATTERN_GROUPS
    if unknown:
        raise ValueError(
            f"unexpected named groups {sorted(unknown)}: only t, c, z, p and g are used"
        )
    return compiled


class FileMappingSettings(SourceSettings):
    """The ``[source]`` fields of kinds that read files: how a file names its frame."""

    pattern: str | None = None
    """Regex on the file's path relative to the root; named groups t, c, z, p, g (one index)."""
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


@dataclass(frozen=True)
class _Named:
    t: int | None
    channel: str
    z: int
    p: int
    g: int


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
        self._next_t: dict[tuple[str, int, int, int], int] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}

    def origin(self, raw: FileFrame, path: Path) -> str:
        """Return the origin a frame read from ``path`` gets (file and position in it)."""
        return f"{self._origin_prefix}:{path}{raw.where}"

    def continue_after(self, keys: Iterable[FrameKey]) -> None:
        """Continue arrival numbering after these keys (a resumed run)."""
        with self._lock:
            for key in keys:
                stack = (key.channel, key.z, key.p, key.g)
                self._next_t[stack] = max(self._next_t.get(stack, 0), key.t + 1)

    def to_frame(self, raw: FileFrame, path: Path, relative: str | None = None) -> Frame:
        """Build the checked :class:`Frame` for ``raw`` read from ``path``.

        ``relative`` is the path the filename pattern is matched against (default: the file
        name); the pattern applies to files of one frame or one stack (``raw.pattern_applies``),
        and what it names takes precedence over what the file records.
        """
        named = self._named(raw, path, relative)
        image, pixel_size = self._checked(raw, named.channel)
        return self._frame(raw, path, self._claim(named), image, pixel_size)

    def key_of(self, raw: FileFrame, path: Path, *, relative: str | None = None) -> FrameKey:
        """Return the key :meth:`to_frame` gives ``raw``, without checking its pixels.

        ``raw`` may hold no pixels yet (an empty array): only its indices are used. For
        planning the frames of a whole dataset before reading them (``tcan-live batch``):
        frames without a t are numbered in the order they are asked for, as they would arrive.

        Raises
        ------
        FrameRejected
            The file name does not match the pattern, the channel is unknown, or an index is
            out of bounds.
        """
        return self._claim(self._named(raw, path, relative))

    def frame_for(self, raw: FileFrame, path: Path, key: FrameKey) -> Frame:
        """Build the checked :class:`Frame` for ``raw`` read from ``path`` at a known ``key``.

        The key comes from :meth:`key_of` (a planned dataset); the pixels and pixel size are
        checked exactly as :meth:`to_frame` checks them.
        """
        image, pixel_size = self._checked(raw, key.channel)
        return self._frame(raw, path, key, image, pixel_size)

    def _named(self, raw: FileFrame, path: Path, relative: str | None) -> _Named:
        """Return the indices the file name (pattern) and the file's metadata give a frame."""
        t, channel = raw.t, raw.channel
        named: dict[str, int] = {}
        if self._pattern is not None and raw.pattern_applies:
            subject = relative if relative is not None else path.name
            match = self._pattern.search(subject)
            if match is None:
                raise FrameRejected(
                    f"file name {subject!r} does not match pattern {self._pattern.pattern!r}"
                )
            if "t" in self._pattern.groupindex and match.group("t") is not None:
                t = int(match.group("t"))
            if "c" in self._pattern.groupindex and match.group("c") is not None:
                channel = match.group("c")
            named = {
                axis: int(match.group(axis))
                for axis in ("z", "p", "g")
                if axis in self._pattern.groupindex and match.group(axis) is not None
            }
        z, p, g = named.get("z", raw.z or 0), named.get("p", raw.p or 0), named.get("g", raw.g or 0)
        if t is not None:
            check_indices(FrameKey(t, "", z, p, g), self._max_time_index)
        return _Named(t, self._channel_name(channel), z, p, g)

    def _checked(self, raw: FileFrame, channel: str) -> tuple[np.ndarray, float]:
        return self._checked_image(raw.image, channel), self._pixel_size_nm(raw)

    def _claim(self, named: _Named) -> FrameKey:
        """Return the key: the frame's t, or the next arrival number of its (c, z, p, g)."""
        with self._lock:
            stack = (named.channel, named.z, named.p, named.g)
            t = named.t
            if t is None:
                t = self._next_t.get(stack, 0)
                check_indices(FrameKey(t, "", named.z, named.p, named.g), self._max_time_index)
            self._next_t[stack] = max(self._next_t.get(stack, 0), t + 1)
        return FrameKey(t, named.channel, named.z, named.p, named.g)

    def _frame(
        self, raw: FileFrame, path: Path, key: FrameKey, image: np.ndarray, pixel_size: float
    ) -> Frame:
        return Frame(
            image=image,
            t=key.t,
            channel=key.channel,
            pixel_size_nm=pixel_size,
            timestamp=raw.timestamp if raw.timestamp is not None else time.time(),
            origin=self.origin(raw, path),
            metadata=dict(raw.metadata),
            z=key.z,
            position=Position(
                index=key.p, grid=key.g, name=raw.position_name or "", stage_um=raw.stage_um
            ),
            z_step_nm=raw.z_step_nm,
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
