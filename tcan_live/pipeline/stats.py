"""Live counters of the pipeline, for the dashboard, previews and benchmarks."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of the pipeline's counters at one moment."""

    received: int
    resumed: int
    stored: int
    enhanced: int
    skipped: int
    rejected: int
    duplicates: int
    in_memory: int
    in_memory_peak: int
    backlog: int
    megapixels_in: float
    elapsed_s: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    errors: int
    flagged: int = 0
    warnings: int = 0
    preview_latency_ms_p50: float = float("nan")
    preview_latency_ms_p99: float = float("nan")

    @property
    def megapixels_per_s(self) -> float:
        """Input megapixels enhanced per second since the start."""
        return self.megapixels_in / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def frames_lost(self) -> int:
        """Frames received or resumed but not enhanced, skipped, duplicate or in the backlog."""
        settled = self.enhanced + self.skipped + self.duplicates + self.backlog
        return self.received + self.resumed - settled


class PipelineStats:
    """Thread-safe counters; latencies kept for the last ``window`` frames."""

    def __init__(self, window: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._latencies: deque[float] = deque(maxlen=window)
        self._preview_latencies: deque[float] = deque(maxlen=window)
        self.received = self.resumed = self.stored = 0
        self.enhanced = self.skipped = self.rejected = self.duplicates = self.errors = 0
        self.flagged = self.warnings = 0
        self.in_memory = self.in_memory_peak = self.backlog = 0
        self.megapixels_in = 0.0

    def add(self, **increments: float) -> None:
        """Add to counters by name."""
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def set(self, **values: int) -> None:
        """Set gauge values by name."""
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)
            self.in_memory_peak = max(self.in_memory_peak, self.in_memory)

    def frame_done(self, latency_s: float, megapixels: float) -> None:
        """Record one enhanced frame."""
        with self._lock:
            self.enhanced += 1
            self.megapixels_in += megapixels
            self._latencies.append(latency_s * 1e3)

    def preview_shown(self, latency_s: float) -> None:
        """Record one preview handed to the publisher, ``latency_s`` after its frame arrived."""
        with self._lock:
            self._preview_latencies.append(latency_s * 1e3)

    def preview_latencies_ms(self) -> list[float]:
        """Return the arrival-to-preview latencies (ms) of the last ``window`` previews."""
        with self._lock:
            return list(self._preview_latencies)

    def latencies_ms(self) -> list[float]:
        """Return the per-frame latencies (ms) of the last ``window`` frames, oldest first."""
        with self._lock:
            return list(self._latencies)

    def snapshot(self) -> StatsSnapshot:
        """Return a consistent copy of all counters."""
        with self._lock:
            latencies = np.array(self._latencies) if self._latencies else np.zeros(1)
            p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
            shown = np.array(self._preview_latencies)
            preview_p50, preview_p99 = (
                np.percentile(shown, [50, 99]) if shown.size else (float("nan"),) * 2
            )
            return StatsSnapshot(
                received=self.received,
                resumed=self.resumed,
                stored=self.stored,
                enhanced=self.enhanced,
                skipped=self.skipped,
                rejected=self.rejected,
                duplicates=self.duplicates,
                in_memory=self.in_memory,
                in_memory_peak=self.in_memory_peak,
                backlog=self.backlog,
                megapixels_in=self.megapixels_in,
                elapsed_s=time.monotonic() - self._start,
                latency_ms_p50=float(p50),
                latency_ms_p95=float(p95),
                latency_ms_p99=float(p99),
                errors=self.errors,
                flagged=self.flagged,
                warnings=self.warnings,
                preview_latency_ms_p50=float(preview_p50),
                preview_latency_ms_p99=float(preview_p99),
            )
