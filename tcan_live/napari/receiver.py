"""Receiving previews off napari's main thread: the newest preview per topic, in batches.

The generator runs in a napari thread worker. It drains its socket continuously and keeps
only the newest preview of each topic, and hands a batch to the main thread only once the
previous batch has been shown (``ready``), at most ``max_rate_hz`` times a second and no more
often than the viewer's CPU budget allows, so a slow viewer drops old previews here instead of
queueing them in Qt or slowing the daemon (whose publisher never waits on a subscriber).

The budget matters where the viewer and the daemon share a machine: each repaint costs CPU the
daemon could use (measured: docs/napari.md). The CPU this process spent from one hand-off to the
next (drawing, Qt's painting, software OpenGL threads, receiving) sets the wait before the next,
so the viewer's long-run share of the machine stays within ``cpu_budget`` wherever drawing is
expensive, and the rate cap alone applies wherever it is cheap.
"""

from __future__ import annotations

import math
import os
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
# The display never waits longer than this between batches, whatever the budget says.
MIN_RATE_HZ = 0.5


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform has one).

    The display budget is a share of these, and ``bench napari`` reports shares of the same.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def display_interval(spent_cpu_s: float, cpu_budget: float, cpus: int, max_rate_hz: float) -> float:
    """Return the wait (s) before the next batch after a display cycle that cost ``spent_cpu_s``.

    Parameters
    ----------
    spent_cpu_s
        CPU seconds this process used over the last cycle (hand-off to hand-off).
    cpu_budget
        The viewer's share of the machine, all ``cpus`` together (0.03: 3 %).
    cpus
        Logical CPUs of the machine.
    max_rate_hz
        The display-rate cap.

    Returns
    -------
    float
        The longer of the cap's interval and the time that brings the cycle's CPU within the
        budget, never longer than ``1 / MIN_RATE_HZ``. Repeated with the receiver's half-way
        steps, cycles whose idle cost (CPU s per s) is below ``cpu_budget * cpus`` settle at
        ``draw / (cpu_budget * cpus - idle)``.
    """
    fastest = 1.0 / max_rate_hz
    budget_s = max(cpu_budget, 1e-6) * max(cpus, 1)
    return min(max(fastest, spent_cpu_s / budget_s), max(fastest, 1.0 / MIN_RATE_HZ))


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
    cpu_budget
        The viewer process's share of the machine's CPUs (all together) that display cycles
        may use; ``interval_s`` follows from it (:func:`display_interval`).
    interval_s
        The wait the budget asks for between batches (s; 0 until a cycle is measured).
    """

    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    received: int = 0
    merged: int = 0
    errors: int = 0
    last_error: str | None = None
    max_rate_hz: float = 5.0
    cpu_budget: float = 0.02
    interval_s: float = 0.0

    def __post_init__(self) -> None:
        self.ready.set()

    @property
    def wait_s(self) -> float:
        """The wait between batches now: the budget's or the rate cap's, whichever is longer."""
        return max(self.interval_s, 1 / self.max_rate_hz)


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
            last_cpu: float | None = None
            cpus = usable_cpus()
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
                if pending and control.ready.is_set() and now - last_batch >= control.wait_s:
                    cpu = time.process_time()
                    if last_cpu is not None:
                        target = display_interval(
                            cpu - last_cpu, control.cpu_budget, cpus, control.max_rate_hz
                        )
                        # Half-way steps: one unusually slow or quick cycle moves it little.
                        control.interval_s = (control.interval_s + target) / 2
                    last_batch, last_cpu = now, cpu
                    control.ready.clear()
                    batch, pending = list(pending.values()), {}
                    yield batch
    finally:
        control.closed.set()
