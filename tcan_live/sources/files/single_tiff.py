"""Read a complete TIFF / OME-TIFF: one frame per file, or a finished multi-dimensional stack.

A file counts as complete only when every page's pixel bytes lie inside the file and tifffile
decodes it; anything less raises :class:`IncompleteFileError`, so a file still being written is
never taken half-way.

A stack (an ImageJ hyperstack, an OME-TIFF with T, C, Z axes and one image per stage position)
gives one frame per plane, indexed by its own axes: ``t`` from T, the channel from C (the OME
channel name, else the index as text, for ``channel_aliases``), ``z`` from Z and ``p`` from the
OME image. Any other axis longer than one is refused: its meaning is not recorded.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.tiff_files import (
    ome_elements,
    ome_image,
    reading,
    tiff_pixel_size_nm,
    tiff_z_step_nm,
)
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError

_INDEXED_AXES = {"T": "t", "C": "c", "Z": "z"}
_PLANE_AXES = {"Y", "X"}


def read_tiff_planes(path: Path) -> list[FileFrame]:
    """Return the frames stored in ``path``: its one 2D frame, or every plane of a stack.

    Raises
    ------
    IncompleteFileError
        The file is truncated, still being written, or not decodable as TIFF.
    FrameRejected
        The file is complete but holds no usable frames (RGB, unknown axes).
    PermissionError
        The file cannot be opened.
    """
    try:
        with reading(path), tifffile.TiffFile(path) as tif:
            _require_complete(tif)
            series = list(tif.series)
            pixel_size_nm = tiff_pixel_size_nm(tif)
            if len(series) == 1 and math.prod(_leading_shape(series[0])) == 1:
                image = np.squeeze(series[0].asarray())
                if image.ndim == 2:
                    return [FileFrame(image=image, pixel_size_nm=pixel_size_nm, **_ome_plane(tif))]
            z_step_nm = tiff_z_step_nm(tif)
            return [
                frame
                for p, one in enumerate(series)
                for frame in _planes(tif, one, p if len(series) > 1 else None, z_step_nm)
            ]
    except (IncompleteFileError, FrameRejected, PermissionError, FileNotFoundError):
        raise
    except Exception as exc:  # tifffile raises many kinds on partial or corrupt files
        raise IncompleteFileError(f"not a complete TIFF ({type(exc).__name__}: {exc})") from exc


def _leading_shape(series: tifffile.TiffPageSeries) -> tuple[int, ...]:
    """Return the shape of the axes before Y, X (samples included: RGB is no one plane)."""
    return tuple(
        length
        for axis, length in zip(series.axes, series.shape, strict=True)
        if axis not in _PLANE_AXES
    )


def _planes(
    tif: tifffile.TiffFile,
    series: tifffile.TiffPageSeries,
    p: int | None,
    z_step_nm: float | None,
) -> list[FileFrame]:
    axes = series.axes
    if not axes.endswith("YX"):
        raise FrameRejected(
            f"expected 2D single-channel planes (axes ending in YX), got shape {series.shape} "
            f"(axes {axes})"
        )
    leading = axes[:-2]
    for axis, length in zip(leading, series.shape[:-2], strict=True):
        if axis not in _INDEXED_AXES and length > 1:
            raise FrameRejected(
                f"axis {axis!r} of length {length} (shape {series.shape}, axes {axes}): expected "
                "one 2D frame per file, or a stack whose other axes are T, C and Z (ImageJ or "
                "OME metadata)"
            )
    name, channel_names = ome_image(tif, p or 0)
    pixel_size_nm = tiff_pixel_size_nm(tif)
    data = series.asarray()
    frames = []
    for index in np.ndindex(data.shape[:-2]):
        named = {
            _INDEXED_AXES[axis]: value
            for axis, value in zip(leading, index, strict=True)
            if axis in _INDEXED_AXES
        }
        c = named.get("c", 0)
        channel = channel_names[c] if c < len(channel_names) and channel_names[c] else None
        if channel is None and "c" in named:
            channel = str(c)
        where = "#" + ",".join(
            f"{axis}{value}" for axis, value in (("p", p), *named.items()) if value is not None
        )
        frames.append(
            FileFrame(
                image=np.asarray(data[index]),
                where=where,
                t=named.get("t", 0),
                channel=channel,
                pixel_size_nm=pixel_size_nm,
                z=named.get("z", 0),
                p=p,
                position_name=name or None,
                z_step_nm=z_step_nm,
                metadata={"axes": axes, "index": [int(value) for value in index]},
            )
        )
    return frames


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
    for series in tif.series:
        for page in series.pages:
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
