"""Read a complete single-frame TIFF / OME-TIFF (one image per file, as written per frame).

A file counts as complete only when every page's pixel bytes lie inside the file and tifffile
decodes it; anything less raises :class:`IncompleteFileError`, so a file still being written is
never taken half-way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.tiff_files import ome_elements, reading, tiff_pixel_size_nm
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError


def read_single_tiff(path: Path) -> FileFrame:
    """Return the one 2D frame stored in ``path``.

    Raises
    ------
    IncompleteFileError
        The file is truncated, still being written, or not decodable as TIFF.
    FrameRejected
        The file is complete but does not hold exactly one 2D frame.
    PermissionError
        The file cannot be opened.
    """
    try:
        with reading(path), tifffile.TiffFile(path) as tif:
            _require_complete(tif)
            series = tif.series[0]
            image = series.asarray()
            pixel_size_nm = tiff_pixel_size_nm(tif)
            ome = _ome_plane(tif)
    except (IncompleteFileError, FrameRejected, PermissionError, FileNotFoundError):
        raise
    except Exception as exc:  # tifffile raises many kinds on partial or corrupt files
        raise IncompleteFileError(f"not a complete TIFF ({type(exc).__name__}: {exc})") from exc
    image = np.squeeze(image)
    if image.ndim != 2:
        raise FrameRejected(
            f"expected one 2D frame per file, got shape {series.shape} (axes {series.axes})"
        )
    return FileFrame(image=image, pixel_size_nm=pixel_size_nm, **ome)


def unwritten_tail(image: np.ndarray) -> int:
    """Pixels at the end of a camera frame (row-major) that look never written, or 0.

    A pre-allocated file is all zeros until its writer fills it, so a file taken too early has a
    zero tail. A camera frame has an offset: when no other pixel is zero, a zero tail of at
    least one whole row looks unwritten. Frames with zeros elsewhere (or float frames) are not
    judged. Real frames can look like this too (a scan stopped early: one of the project's real
    confocal images ends in 96 zero rows), so this is a reason to wait, never to refuse.
    """
    if image.dtype.kind not in "ui" or image.ndim != 2:
        return 0
    flat = image.reshape(-1)
    nonzero = np.flatnonzero(flat)
    if nonzero.size == 0:
        return 0  # all zero: a dark frame, or not written at all; nothing to compare with
    tail = flat.size - 1 - int(nonzero[-1])
    if tail < image.shape[1] or np.count_nonzero(flat[: nonzero[-1] + 1] == 0):
        return 0
    return tail


def _require_complete(tif: tifffile.TiffFile) -> None:
    size = tif.filehandle.size
    if not tif.series:
        raise IncompleteFileError("no image data in the file yet")
    for page in tif.series[0].pages:
        if page is None:
            raise IncompleteFileError("a page of the image is missing")
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
            if count == 0 or offset + count > size:
                raise IncompleteFileError(
                    f"pixel data end at byte {offset + count}, beyond the file's {size} bytes"
                )


def _ome_plane(tif: tifffile.TiffFile) -> dict[str, Any]:
    """Time index and channel name from the OME-XML of a single-plane file."""
    found: dict[str, Any] = {}
    channels = ome_elements(tif, "Channel")
    if len(channels) == 1 and channels[0].attrib.get("Name"):
        found["channel"] = channels[0].attrib["Name"]
    planes = ome_elements(tif, "Plane")
    if len(planes) == 1 and re.fullmatch(r"\d+", planes[0].attrib.get("TheT", "")):
        found["t"] = int(planes[0].attrib["TheT"])
    return found
