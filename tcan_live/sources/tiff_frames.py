"""Read a complete single-frame TIFF / OME-TIFF (one image per file, as written per frame).

A file counts as complete only when every page's pixel bytes lie inside the file and tifffile
decodes it; anything less raises :class:`IncompleteFileError`, so a file still being written is
never taken half-way.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from tcan_live.sources.raw_frames import BadFrameError, IncompleteFileError, RawFrame

# nm per unit of the OME PhysicalSizeXUnit attribute (absent means micrometres).
_OME_UNITS_NM = {"nm": 1.0, "µm": 1000.0, "um": 1000.0, "mm": 1e6, "cm": 1e7, "m": 1e9}
# nm per resolution unit (TIFF ResolutionUnit 2 = inch, 3 = centimetre).
_RESOLUTION_UNITS_NM = {2: 25.4e6, 3: 1e7}
_IMAGEJ_MICRON_UNITS = {"micron", "microns", "um", "µm", "\\u00B5m"}


def read_tiff_frame(path: Path) -> RawFrame:
    """Return the one 2D frame stored in ``path``.

    Raises
    ------
    IncompleteFileError
        The file is truncated, still being written, or not decodable as TIFF.
    BadFrameError
        The file is complete but does not hold exactly one 2D frame.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            _require_complete(tif)
            series = tif.series[0]
            image = series.asarray()
            pixel_size_nm = _pixel_size_nm(tif)
            ome = _ome_plane(tif)
    except (IncompleteFileError, BadFrameError):
        raise
    except Exception as exc:  # tifffile raises many kinds on partial or corrupt files
        raise IncompleteFileError(f"not a complete TIFF ({type(exc).__name__}: {exc})") from exc
    image = np.squeeze(image)
    if image.ndim != 2:
        raise BadFrameError(
            f"expected one 2D frame per file, got shape {series.shape} (axes {series.axes})"
        )
    return RawFrame(image=image, pixel_size_nm=pixel_size_nm, **ome)


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


def _pixel_size_nm(tif: tifffile.TiffFile) -> float | None:
    from_ome = _ome_pixel_size_nm(tif)
    if from_ome is not None:
        return from_ome
    page = tif.pages.first
    if "XResolution" not in page.tags:
        return None
    numerator, denominator = page.tags["XResolution"].value
    if numerator <= 0 or denominator <= 0:
        return None
    pixels_per_unit = numerator / denominator
    unit = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 2
    nm_per_unit = _RESOLUTION_UNITS_NM.get(unit)
    if nm_per_unit is None and tif.is_imagej:
        # ImageJ stores calibrated sizes with ResolutionUnit NONE and the unit in its metadata.
        ij_unit = str((tif.imagej_metadata or {}).get("unit", "")).lower()
        nm_per_unit = 1000.0 if ij_unit in _IMAGEJ_MICRON_UNITS else None
    return nm_per_unit / pixels_per_unit if nm_per_unit is not None else None


def _ome_root(tif: tifffile.TiffFile) -> ET.Element | None:
    if not tif.is_ome or not tif.ome_metadata:
        return None
    try:
        return ET.fromstring(tif.ome_metadata)
    except ET.ParseError:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_all(root: ET.Element, name: str) -> list[ET.Element]:
    return [el for el in root.iter() if _local(el.tag) == name]


def _ome_pixel_size_nm(tif: tifffile.TiffFile) -> float | None:
    root = _ome_root(tif)
    pixels = _find_all(root, "Pixels") if root is not None else []
    if not pixels or "PhysicalSizeX" not in pixels[0].attrib:
        return None
    unit = pixels[0].attrib.get("PhysicalSizeXUnit", "µm")
    try:
        return float(pixels[0].attrib["PhysicalSizeX"]) * _OME_UNITS_NM[unit]
    except (KeyError, ValueError):
        return None


def _ome_plane(tif: tifffile.TiffFile) -> dict[str, Any]:
    """Time index and channel name from the OME-XML of a single-plane file."""
    root = _ome_root(tif)
    if root is None:
        return {}
    found: dict[str, Any] = {}
    channels = _find_all(root, "Channel")
    if len(channels) == 1 and channels[0].attrib.get("Name"):
        found["channel"] = channels[0].attrib["Name"]
    planes = _find_all(root, "Plane")
    if len(planes) == 1 and re.fullmatch(r"\d+", planes[0].attrib.get("TheT", "")):
        found["t"] = int(planes[0].attrib["TheT"])
    return found
