"""The one check a frame passes where it enters tcan-live, and the error it raises otherwise.

Every source applies :func:`check_frame` (or its parts) to what it acquired or read: pixels
2D, of a supported type, finite, and a plausible pixel size. Later stages (the store, the
enhancer) trust a checked frame and test only what is theirs to know (the store's layout, the
engine's sampling). Every refusal is a :class:`FrameRejected` whose message says what was
expected.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tcan_live.core.acquisition import Frame, FrameKey

#: Pixel types an acquisition delivers: 8- and 16-bit cameras, float from processed files.
ACQUIRED_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
#: Pixel sizes outside this range (nm) are refused as absurd: below any optical microscope's
#: sampling, or above a few hundred um (e.g. the 72 dpi default of TIFF writers, 352,778 nm).
PIXEL_SIZE_RANGE_NM = (1.0, 100_000.0)
#: Time indices at or above this are refused unless a source configures more: an index like
#: 10^20 (a stray number in a file name) would size the store beyond what any reader opens.
MAX_TIME_INDEX = 1_000_000
#: z slices, positions and grid tiles at or above this are refused (no acquisition has more).
MAX_OTHER_INDEX = 100_000
_NUMERIC_KINDS = "buif"


class FrameRejected(ValueError):  # noqa: N818  (a verdict on a frame, not a failure)
    """A frame that cannot be used; the message says what was expected."""


def check_image(
    image: np.ndarray, dtypes: tuple[np.dtype, ...] | None = ACQUIRED_DTYPES
) -> np.ndarray:
    """Return ``image`` as a contiguous native-endian 2D array, or raise :class:`FrameRejected`.

    Parameters
    ----------
    image
        The pixels.
    dtypes
        The accepted pixel types (byte order aside); None accepts any boolean, integer or
        float type (a user's own array handed to an engine).
    """
    if not isinstance(image, np.ndarray):
        raise FrameRejected(f"pixels of type {type(image).__name__}: expected a numpy array")
    native = image.dtype.newbyteorder("=")
    if dtypes is not None and native not in dtypes:
        expected = ", ".join(str(d) for d in dtypes)
        raise FrameRejected(f"unexpected dtype {image.dtype}: expected one of {expected}")
    if dtypes is None and image.dtype.kind not in _NUMERIC_KINDS:
        raise FrameRejected(f"unexpected dtype {image.dtype}: expected integer or float pixels")
    if image.ndim != 2 or min(image.shape) < 1:
        raise FrameRejected(f"unexpected shape {image.shape}: expected a 2D (Y, X) frame")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        bad = int(np.count_nonzero(~np.isfinite(image)))
        raise FrameRejected(f"{bad} NaN/inf pixels: expected finite values")
    if image.flags.c_contiguous and image.dtype.isnative:
        return image
    return np.ascontiguousarray(image, dtype=native)


def check_pixel_size(value_nm: float | None, what: str) -> float:
    """Return ``value_nm`` if plausible, else raise :class:`FrameRejected` naming ``what``.

    Parameters
    ----------
    value_nm
        The pixel size in nanometres, or None when the source had none.
    what
        Where the value came from, for the message (e.g. ``"the file's metadata"``).
    """
    low, high = PIXEL_SIZE_RANGE_NM
    if value_nm is None:
        raise FrameRejected(
            f"no pixel size in {what}: expected one, or set pixel_size_nm in the source config"
        )
    if not (math.isfinite(value_nm) and low <= value_nm <= high):
        raise FrameRejected(
            f"absurd pixel size {value_nm:g} nm from {what}: expected {low:g}..{high:g} nm "
            "(set pixel_size_nm in the source config to override)"
        )
    return float(value_nm)


def check_time_index(t: int, limit: int = MAX_TIME_INDEX) -> int:
    """Return ``t`` if it is a time index in ``0 .. limit - 1``; raise FrameRejected otherwise."""
    if not 0 <= t < limit:
        raise FrameRejected(
            f"time index {t} outside 0..{limit - 1}: expected an index of this acquisition "
            "(source.max_time_index sets the limit)"
        )
    return t


def check_indices(key: FrameKey, max_time_index: int = MAX_TIME_INDEX) -> FrameKey:
    """Return ``key`` if its indices are plausible, else raise :class:`FrameRejected`."""
    check_time_index(key.t, max_time_index)
    for axis, value in (("z", key.z), ("p", key.p), ("g", key.g), ("run", key.run)):
        if not 0 <= value < MAX_OTHER_INDEX:
            raise FrameRejected(
                f"{axis} index {value} outside 0..{MAX_OTHER_INDEX - 1}: expected an index of "
                "this acquisition"
            )
    return key


def check_frame(frame: Frame, pixel_size_from: str, max_time_index: int = MAX_TIME_INDEX) -> Frame:
    """Return ``frame`` with checked pixels and pixel size, or raise :class:`FrameRejected`.

    ``pixel_size_from`` names where the frame's pixel size came from, for the message;
    ``max_time_index`` bounds its time index (other indices have a fixed bound).
    """
    check_indices(frame.key, max_time_index)
    image = check_image(frame.image)
    size = check_pixel_size(frame.pixel_size_nm, pixel_size_from)
    if image is frame.image and size == frame.pixel_size_nm:
        return frame
    return dataclasses.replace(frame, image=image, pixel_size_nm=size)


def checked_or_marked(
    frame: Frame, pixel_size_from: str, max_time_index: int = MAX_TIME_INDEX
) -> Frame:
    """Return the checked ``frame``, or ``frame`` with :attr:`Frame.problem` saying what failed.

    For sources whose frames exist only in memory (Micro-Manager hooks, replayed arrays): a
    frame that fails the check is still handed over, to be kept rather than lost.
    """
    try:
        return check_frame(frame, pixel_size_from, max_time_index)
    except FrameRejected as exc:
        return dataclasses.replace(frame, problem=str(exc))
