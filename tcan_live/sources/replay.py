"""Replay frames at a set rate: a simulated time-lapse in memory, or files on disk.

Used by ``tcan-live demo`` and the benchmarks, where the acquisition rate must be controlled.
Frames are emitted from the source's own thread on a fixed schedule (frame k at
``start + k / rate_hz``), so a slow consumer shows up as lateness, not as a slower schedule.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from tcan_live.core.acquisition import Frame
from tcan_live.core.frame_check import checked_or_marked
from tcan_live.core.settings import ConfigError, ConfigPath
from tcan_live.sources.files.mapping import FileMappingSettings
from tcan_live.sources.files.readers import read_finished_file
from tcan_live.sources.kind import SourceContext, SourceKind
from tcan_live.sources.protocol import FrameCallback

log = logging.getLogger(__name__)


class ReplaySourceConfig(FileMappingSettings):
    """Finished files (TIFF, MMStack, NDTiff folders) replayed at a set rate."""

    kind: Literal["replay"]
    files: tuple[ConfigPath, ...] = Field(min_length=1)
    rate_hz: float = Field(0.0, ge=0)
    """Frames per second; 0 = as fast as possible."""
    loops: int = Field(1, ge=1)


def stack_frames(
    stack: np.ndarray,
    channel_names: Sequence[str],
    pixel_size_nm: float,
    *,
    origin: str = "replay:stack",
    time_increment_s: float | None = None,
) -> Callable[[], Iterator[Frame]]:
    """Frames of a (T, C, Y, X) stack in acquisition order (t outer, c inner).

    Returns a function producing a fresh iterator, so the stack can be replayed in loops.
    Timestamps are taken at emission unless ``time_increment_s`` fixes them to ``t * dt``.
    Each frame passes the frame check (one that fails is marked with its problem).
    """
    if stack.ndim != 4 or stack.shape[1] != len(channel_names):
        raise ValueError(
            f"stack: expected (T, C, Y, X) with C = {len(channel_names)} channels, "
            f"got shape {stack.shape}"
        )

    def frames() -> Iterator[Frame]:
        for t in range(stack.shape[0]):
            for c, name in enumerate(channel_names):
                frame = Frame(
                    image=np.array(stack[t, c], copy=True),
                    t=t,
                    channel=name,
                    pixel_size_nm=pixel_size_nm,
                    timestamp=t * time_increment_s if time_increment_s is not None else 0.0,
                    origin=f"{origin}#{t},{c}",
                    metadata={"replay": True},
                )
                yield checked_or_marked(frame, "the replayed stack")

    return frames


class ReplaySource:
    """Emits frames at ``rate_hz`` frames per second (0: as fast as possible) on its own thread.

    Parameters
    ----------
    frames
        A function returning a fresh iterator of frames (called once per loop).
    rate_hz
        Frames per second; 0 emits without pauses.
    loops
        How many times the frames are replayed; later loops shift t by the frames' span so
        every emitted frame keeps a unique (t, channel).
    stamp_now
        Replace each frame's timestamp by the emission time.
    on_done
        Called on the replay thread after the last frame (or after ``stop``).
    """

    def __init__(
        self,
        frames: Callable[[], Iterable[Frame]],
        *,
        rate_hz: float = 0.0,
        loops: int = 1,
        stamp_now: bool = True,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        if rate_hz < 0:
            raise ValueError(f"rate_hz: expected >= 0 frames/s, got {rate_hz}")
        if loops < 1:
            raise ValueError(f"loops: expected >= 1, got {loops}")
        self._frames = frames
        self._rate_hz = rate_hz
        self._loops = loops
        self._stamp_now = stamp_now
        self._on_done = on_done
        self._stop = threading.Event()
        self.done = threading.Event()
        self.emitted = 0
        self._thread: threading.Thread | None = None

    @classmethod
    def from_stack(
        cls,
        stack: np.ndarray,
        channel_names: Sequence[str],
        pixel_size_nm: float,
        *,
        rate_hz: float = 0.0,
        loops: int = 1,
        on_done: Callable[[], None] | None = None,
    ) -> ReplaySource:
        """Replay a (T, C, Y, X) array in acquisition order (t outer, channel inner)."""
        frames = stack_frames(stack, channel_names, pixel_size_nm)
        return cls(frames, rate_hz=rate_hz, loops=loops, on_done=on_done)

    def start(self, emit: FrameCallback) -> None:
        """Start emitting on the replay thread."""
        if self._thread is not None:
            raise RuntimeError("ReplaySource is already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(emit,), name="tcan-replay")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop emitting and join the thread; idempotent."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    @property
    def finished(self) -> bool:
        """Whether every frame has been emitted (or the source was stopped)."""
        return self.done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every frame is emitted (or the source stopped); False on timeout."""
        return self.done.wait(timeout)

    def _run(self, emit: FrameCallback) -> None:
        try:
            self._replay(emit)
        except Exception:
            log.exception("replay failed after %d frames", self.emitted)
        finally:
            self.done.set()
            if self._on_done is not None:
                self._on_done()

    def _replay(self, emit: FrameCallback) -> None:
        period = 1.0 / self._rate_hz if self._rate_hz > 0 else 0.0
        start = time.monotonic()
        t_offset = 0
        for _ in range(self._loops):
            span = 0
            for frame in self._frames():
                if period:
                    delay = start + self.emitted * period - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                if self._stop.is_set():
                    return
                span = max(span, frame.t + 1)
                stamp = time.time() if self._stamp_now else frame.timestamp
                emit(dataclasses.replace(frame, t=frame.t + t_offset, timestamp=stamp))
                self.emitted += 1
            t_offset += span


def _build(config: ReplaySourceConfig, context: SourceContext) -> ReplaySource:
    for path in config.files:
        real = path.resolve()
        for folder in context.exclude:
            if real.is_relative_to(folder.resolve()):
                raise ConfigError(
                    "source.files", [f"{path} lies inside the output {folder}: expected input"]
                )
    mapper = config.mapper()
    cache: list[Frame] = []

    def frames() -> Iterator[Frame]:
        # Read once, replay from memory: every loop then has the same frames and timing.
        if not cache:
            for path in config.files:
                cache.extend(read_finished_file(path, mapper))
        return iter(cache)

    return ReplaySource(frames, rate_hz=config.rate_hz, loops=config.loops)


KIND = SourceKind("replay", ReplaySourceConfig, _build, finite=True)
