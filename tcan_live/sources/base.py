"""The contract of frame sources: Micro-Manager hooks, watch folder, replay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tcan_live.frames import Frame

FrameCallback = Callable[[Frame], None]


class FrameSource(Protocol):
    """Delivers acquired frames to a callback.

    ``emit`` may be called on the acquisition's own thread: it only enqueues (O(1)), so a
    source never waits for inference.
    """

    def start(self, emit: FrameCallback) -> None:
        """Begin delivering frames to ``emit``."""
        ...

    def stop(self) -> None:
        """Stop delivering frames and release resources; idempotent."""
        ...
