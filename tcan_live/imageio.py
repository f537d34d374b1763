"""Single-plane TIFF files with their pixel size: the evaluation and simulator file format.

Written as ImageJ hyperstacks (float32, XResolution/YResolution in pixels per micrometre and
``unit=um`` in the ImageJ description, which Fiji, napari and tifffile all read). Reading
accepts ImageJ, OME-TIFF and plain TIFF resolution tags in centimetres or inches.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

_UNIT_NM = {"nm": 1.0, "um": 1e3, "micron": 1e3, "\u00b5m": 1e3, "\u03bcm": 1e3, "mm": 1e6}


class ImageFileError(ValueError):
    """An image file cannot be used; the message names the file and what was expected."""


def write_tiff(path: str | Path, image: NDArray[np.generic], pixel_size_nm: float) -> Path:
    """Write a 2D image (or a (T, C, Y, X) stack) as an ImageJ TIFF with its pixel size."""
    import tifffile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(image)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    axes = {2: "YX", 3: "CYX", 4: "TCYX"}.get(data.ndim)
    if axes is None:
        raise ValueError(f"{target}: expected 2 to 4 dimensions (YX .. TCYX), got {data.shape}")
    per_um = 1000.0 / pixel_size_nm
    tifffile.imwrite(
        target,
        data,
        imagej=True,
        resolution=(per_um, per_um),
        metadata={"unit": "um", "axes": axes, "spacing": pixel_size_nm / 1000.0},
    )
    return target


def read_tiff(path: str | Path) -> tuple[NDArray[np.float32], float | None]:
    """Read a TIFF image as float32 and its pixel size in nm (``None`` when not recorded).

    Raises
    ------
    ImageFileError
        When the file is missing or not a readable TIFF.
    """
    import tifffile

    source = Path(path)
    if not source.is_file():
        raise ImageFileError(f"{source}: no such image file")
    try:
        with tifffile.TiffFile(source) as tif:
            image = tif.asarray()
            pixel_nm = _pixel_size_nm(tif)
    except (tifffile.TiffFileError, OSError, ValueError) as error:
        raise ImageFileError(f"{source}: not a readable TIFF ({error})") from None
    return np.asarray(image, dtype=np.float32), pixel_nm


def _pixel_size_nm(tif: object) -> float | None:
    ome = getattr(tif, "ome_metadata", None)
    if ome:
        size = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', ome)
        ome_unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', ome)
        if size:
            return float(size.group(1)) * _UNIT_NM.get(ome_unit.group(1) if ome_unit else "um", 1e3)
    page = tif.pages[0]  # type: ignore[attr-defined]
    tag = page.tags.get("XResolution")
    if tag is None:
        return None
    numerator, denominator = tag.value
    if numerator == 0:
        return None
    per_unit = numerator / denominator
    imagej = getattr(tif, "imagej_metadata", None) or {}
    unit = str(imagej.get("unit", "")).strip()
    if unit in _UNIT_NM:
        return _UNIT_NM[unit] / per_unit
    resolution_unit = (
        int(page.tags.get("ResolutionUnit").value) if "ResolutionUnit" in page.tags else 2
    )
    if resolution_unit == 3:  # centimetre
        return 1e7 / per_unit
    if resolution_unit == 2 and per_unit > 1000:  # inch; 72 dpi screen defaults are not sizes
        return 2.54e7 / per_unit
    return None
