"""Small helpers shared by the sources: pixel-size sanity and elapsed-time clocks."""

from __future__ import annotations

import math
import threading
import time

#: Pixel sizes outside this range (nm) are refused as absurd: below any optical microscope's
#: sampling, or above a few hundred um (e.g. the 72 dpi default of TIFF writers, 352,778 nm).
PIXEL_SIZE_RANGE_NM = (1.0, 100_000.0)


class PixelSizeError(ValueError):
    """A pixel size that is missing or outside the plausible range."""


def checked_pixel_size_nm(value_nm: float | None, what: str) -> float:
    """Return ``value_nm`` if plausible, else raise naming ``what`` and the expected range.

    Parameters
    ----------
    value_nm
        The pixel size in nanometres, or None when the source had none.
    what
        Where the value came from, for the message (e.g. ``"TIFF resolution tags"``).
    """
    low, high = PIXEL_SIZE_RANGE_NM
    if value_nm is None:
        raise PixelSizeError(
            f"no pixel size in {what}: expected one, or set pixel_size_nm in the source config"
        )
    if not (math.isfinite(value_nm) and low <= value_nm <= high):
        raise PixelSizeError(
            f"absurd pixel size {value_nm:g} nm from {what}: expected {low:g}..{high:g} nm "
            "(set pixel_size_nm in the source config to override)"
        )
    return float(value_nm)


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
