"""Running a WatchFolderSource in tests: queues for frames and errors, waits with timeouts."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcan_live.core.acquisition import Frame
from tcan_live.sources.files.mapping import FrameMapper
from tcan_live.sources.watch import WatchFolderSource

TIMEOUT_S = 20.0


@dataclass
class Watched:
    source: WatchFolderSource
    frames: queue.Queue[Frame] = field(default_factory=queue.Queue)
    errors: queue.Queue[str] = field(default_factory=queue.Queue)

    def next_frame(self) -> Frame:
        return self.frames.get(timeout=TIMEOUT_S)

    def next_error(self) -> str:
        return self.errors.get(timeout=TIMEOUT_S)

    def wait_until(self, condition: Callable[[], bool]) -> None:
        """Let the watcher make passes until ``condition`` holds (fails after TIMEOUT_S)."""
        for _ in range(int(TIMEOUT_S / 0.05)):
            if condition():
                return
            assert self.source.wait_for_pass(TIMEOUT_S)
        raise AssertionError("condition not reached")

    def settle(self) -> None:
        """Make sure the watcher has looked at everything written before this call."""
        assert self.source.wait_for_pass(TIMEOUT_S)
        assert self.source.wait_for_pass(TIMEOUT_S)


@contextmanager
def watching(
    root: Path, *, polling: bool, mapper: dict[str, Any] | None = None, **options: Any
) -> Iterator[Watched]:
    settings: dict[str, Any] = {"settle_s": 0.2, "poll_interval_s": 0.1, "give_up_after_s": 30.0}
    settings.update(options)
    errors: queue.Queue[str] = queue.Queue()
    source = WatchFolderSource(
        root,
        FrameMapper(origin_prefix="watch", **(mapper or {})),
        polling=polling,
        on_error=errors.put,
        **settings,
    )
    watched = Watched(source, errors=errors)
    source.start(watched.frames.put)
    try:
        yield watched
    finally:
        source.stop()
