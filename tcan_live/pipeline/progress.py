"""How far an acquisition has come along each axis, for the dashboard."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from tcan_live.core.acquisition import FrameKey

AXES = ("p", "g", "t", "c", "z")


class AcquisitionProgress:
    """The indices of each axis stored so far in the current run, and the latest frame's.

    Thread-safe: :meth:`record` runs on the pipeline's ingest thread, :meth:`describe` on the
    dashboard's. A new run (a second MDA) starts the count again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, set[object]] = {axis: set() for axis in AXES}
        self._planned: dict[str, int] = {}
        self._latest: FrameKey | None = None

    def plan(self, sizes: Mapping[str, int]) -> None:
        """Set the planned length of each axis (e.g. a useq ``MDASequence.sizes``)."""
        with self._lock:
            self._planned = {axis: int(n) for axis, n in sizes.items() if axis in AXES and n}

    def record(self, key: FrameKey) -> None:
        """Count a stored frame's indices."""
        with self._lock:
            if self._latest is not None and key.run != self._latest.run:
                self._seen = {axis: set() for axis in AXES}
            self._latest = key
            values = {"p": key.p, "g": key.g, "t": key.t, "c": key.channel, "z": key.z}
            for axis, value in values.items():
                self._seen[axis].add(value)

    def describe(self) -> str:
        """``p 2/2  t 3/3  c 2/2  z 4/5  (at p=1 t=2 'actin' z=3)``; axes of one value left out.

        ``n/N``: n distinct indices stored of N planned (``n`` alone where no plan is known).
        """
        with self._lock:
            latest = self._latest
            if latest is None:
                return "waiting for the first frame"
            parts = []
            for axis in AXES:
                seen, planned = len(self._seen[axis]), self._planned.get(axis)
                if seen > 1 or (planned or 0) > 1:
                    parts.append(f"{axis} {seen}/{planned}" if planned else f"{axis} {seen}")
        where = f"at {latest.describe()}"
        return "  ".join(parts) + f"  ({where})" if parts else where
