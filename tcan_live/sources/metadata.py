"""Reading what acquisition metadata says: numbers, micrometre pixel sizes, elapsed times."""

from __future__ import annotations

import math
import threading
import time


def as_float(value: object) -> float | None:
    """Read a metadata number (int, float or numeric string); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def um_to_nm(value_um: object) -> float | None:
    """Convert a metadata pixel size in um (number or numeric string) to nm; 0/absent -> None."""
    value = as_float(value_um)
    return value * 1000.0 if value is not None and value > 0 else None


def stage_of(meta: dict[str, object]) -> tuple[float | None, float | None, float | None] | None:
    """Stage (x, y, z) in micrometres from Micro-Manager image metadata, or None.

    Micro-Manager writes ``XPositionUm``; pycromanager's engine ``XPosition_um_Intended``.
    """
    found = []
    for axis in "XYZ":
        value = as_float(meta.get(f"{axis}PositionUm"))
        found.append(
            value if value is not None else as_float(meta.get(f"{axis}Position_um_Intended"))
        )
    x, y, z = found
    return None if x is None and y is None and z is None else (x, y, z)


class ElapsedClock:
    """Turns "ms since the acquisition started" into epoch seconds.

    The first call anchors the acquisition's zero on the wall clock, so later timestamps keep
    the acquisition's own spacing (not the jitter of when a callback happened to run).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zero: float | None = None

    def anchor(self, wall_time: float | None = None) -> None:
        """Declare that the acquisition started at ``wall_time`` (default: now)."""
        with self._lock:
            self._zero = time.time() if wall_time is None else wall_time

    def timestamp(self, elapsed_ms: object) -> float:
        """Epoch seconds for ``elapsed_ms``; the current time where it is not a number."""
        now = time.time()
        elapsed = as_float(elapsed_ms)
        if elapsed is None or not math.isfinite(elapsed):
            return now
        elapsed_s = elapsed / 1000.0
        with self._lock:
            if self._zero is None:
                self._zero = now - elapsed_s
            return self._zero + elapsed_s
