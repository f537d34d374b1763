"""What a preview viewer shows: per-topic frame, latency, rate and dropped previews."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from tcan_live.preview.protocol import Preview


@dataclass
class TopicStats:
    """Running figures of one topic."""

    kind: str
    channel: str
    t: int = -1
    shape: tuple[int, ...] = ()
    latency_ms: float | None = None
    count: int = 0
    first_at: float = field(default_factory=time.monotonic)
    last_at: float = field(default_factory=time.monotonic)

    @property
    def fps(self) -> float:
        """Previews per second since the first one of this topic."""
        elapsed = self.last_at - self.first_at
        return (self.count - 1) / elapsed if self.count > 1 and elapsed > 0 else 0.0


class PreviewMonitor:
    """Collects figures from received previews and renders them as a rich table."""

    def __init__(self) -> None:
        self.topics: dict[str, TopicStats] = {}
        self.received = 0
        self.missed = 0  # gaps in the publisher's sequence numbers seen here
        self.publisher_dropped = 0  # previews the publisher replaced or could not send
        self._last_seq: int | None = None

    def update(self, preview: Preview) -> None:
        """Account for one received preview."""
        now = time.monotonic()
        stats = self.topics.setdefault(preview.topic, TopicStats(preview.kind, preview.channel))
        stats.t = preview.t
        stats.shape = preview.image.shape
        latency = preview.header.get("latency_ms")
        stats.latency_ms = float(latency) if isinstance(latency, (int, float)) else None
        stats.count += 1
        stats.last_at = now
        self.received += 1
        seq = int(preview.header["seq"])
        if self._last_seq is not None and seq > self._last_seq + 1:
            self.missed += seq - self._last_seq - 1
        self._last_seq = seq  # a restarted publisher starts again at 0: no gap counted
        dropped = preview.header.get("dropped")
        if isinstance(dropped, int):
            self.publisher_dropped = dropped

    def table(self, address: str, errors: int) -> Table:
        """Render the current figures."""
        table = Table(
            title=Text(f"tcan-live previews from {address}"),
            caption=(
                f"received {self.received}  ·  dropped by publisher {self.publisher_dropped}  ·  "
                f"missed here {self.missed}  ·  malformed {errors}"
            ),
        )
        for column in ("topic", "frame t", "shape", "latency ms", "fps", "previews"):
            table.add_column(column, justify="left" if column == "topic" else "right")
        for topic, stats in sorted(self.topics.items()):
            latency = "-" if stats.latency_ms is None else f"{stats.latency_ms:.0f}"
            shape = " x ".join(str(n) for n in stats.shape)
            # Text, not markup: a channel name (from the publisher) may hold "[/]".
            cells = (topic, str(stats.t), shape, latency, f"{stats.fps:.1f}", str(stats.count))
            table.add_row(*(Text(cell) for cell in cells))
        return table
