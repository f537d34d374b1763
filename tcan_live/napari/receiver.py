"""Receiving previews off napari's main thread: the newest preview per topic, in batches.

The generator runs in a napari thread worker. It drains its socket continuously and keeps
only the newest preview of each topic, and hands a batch to the main thread only once the
previous batch has been shown (``ready``) and at most ``max_rate_hz`` times a second, so a slow
viewer drops old previews here instead of queueing them in Qt or slowing the daemon (whose
publisher never waits on a subscriber). The rate cap matters where the viewer and the daemon
share a machine: each repaint costs CPU the daemon could use (measured: README, napari).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from tcan_live.preview.protocol import Preview
from tcan_live.preview.subscriber import PreviewSubscriber

# Topic prefixes the widget shows; composites and projections are not subscribed at all.
TOPICS = ("raw/", "sr/", "qc/")
_POLL_S = 0.05


@dataclass
class ReceiverControl:
    """Flags shared between the receiving thread and the main thread.

    Attributes
    ----------
    stop
        Set by the main thread to end the receiver.
    closed
        Set by the receiver once its socket is closed.
    ready
        Set by the main thread when it has shown the last batch.
    received, merged
        Previews received, and how many were replaced by a newer one before being shown.
    errors, last_error
        Messages refused by the protocol check, and the last reason.
    max_rate_hz
        Most batches handed to the viewer per second (each is one repaint).
    """

    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    received: int = 0
    merged: int = 0
    errors: int = 0
    last_error: str | None = None
    max_rate_hz: float = 5.0

    def __post_init__(self) -> None:
        self.ready.set()


def receive_previews(
    address: str,
    control: ReceiverControl,
    *,
    server_key: str | Path | None = None,
    client_key_file: Path | None = None,
) -> Generator[list[Preview], None, None]:
    """Yield batches of the newest previews per topic until ``control.stop`` is set.

    ZeroMQ reconnects by itself when the daemon restarts on the same address, so one receiver
    outlives any number of daemon runs.
    """
    try:
        with PreviewSubscriber(
            address, topics=TOPICS, server_key=server_key, client_key_file=client_key_file
        ) as subscriber:
            pending: dict[str, Preview] = {}
            last_batch = -math.inf
            while not control.stop.is_set():
                preview = subscriber.receive(timeout=_POLL_S)
                while preview is not None:
                    control.merged += preview.topic in pending
                    pending[preview.topic] = preview
                    preview = subscriber.receive(timeout=0)
                control.received = subscriber.received
                control.errors = subscriber.errors
                control.last_error = subscriber.last_error
                now = time.monotonic()
                if (
                    pending
                    and control.ready.is_set()
                    and now - last_batch >= 1 / control.max_rate_hz
                ):
                    last_batch = now
                    control.ready.clear()
                    batch, pending = list(pending.values()), {}
                    yield batch
    finally:
        control.closed.set()
