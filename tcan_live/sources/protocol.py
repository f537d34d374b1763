"""The contract of frame sources: Micro-Manager hooks, watch folder, replay, and any new kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tcan_live.core.acquisition import Frame

FrameCallback = Callable[[Frame], None]
"""Receives each frame; may run on the acquisition's own thread, so it only enqueues."""
ErrorCallback = Callable[[str], None]
"""Receives one line per problem; the line names the file or frame and what was expected."""


class FrameSource(Protocol):
    """Delivers acquired frames to a callback.

    ``emit`` may be called on the acquisition's own thread: it only enqueues (O(1)), so a
    source never waits for inference. A frame that fails the frame check but exists only in
    memory is delivered all the same, marked with its :attr:`~tcan_live.core.acquisition.Frame
    .problem`, so it is kept rather than lost.
    """

    def start(self, emit: FrameCallback) -> None:
        """Begin delivering frames to ``emit``."""
        ...

    def stop(self) -> None:
        """Stop delivering frames and release resources; idempotent."""
        ...

    @property
    def finished(self) -> bool:
        """Whether every frame has been delivered (a finite source); False while more may come."""
        ...


class OnePassSource(FrameSource, Protocol):
    """A source that can also deliver what is already there in one pass, then return."""

    def run_once(self, emit: FrameCallback) -> int:
        """Deliver every frame available now to ``emit``; return how many were delivered."""
        ...
