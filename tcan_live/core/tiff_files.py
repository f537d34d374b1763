"""TIFF / OME-TIFF files with their pixel size: the one place that reads and writes them.

Written as ImageJ hyperstacks (float32, XResolution/YResolution in pixels per micrometre and
``unit=um`` in the ImageJ description, which Fiji, napari and tifffile all read). Reading
accepts ImageJ, OME-TIFF and plain TIFF resolution tags in centimetres or inches.
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import tifffile
from numpy.typing import NDArray

_UNIT_NM = {
    "nm": 1.0,
    "um": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "\u00b5m": 1e3,
    "\u03bcm": 1e3,
    "\\u00b5m": 1e3,
    "mm": 1e6,
    "cm": 1e7,
    "m": 1e9,
}


TIFF_SUFFIXES = (".tif", ".tiff")
_reading = threading.local()


class _NameTheFile(logging.Filter):
    """Prefix tifffile's log messages with the file being read in this thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        path = getattr(_reading, "path", None)
        if path is not None:
            record.msg, record.args = f"{path}: {record.getMessage()}", ()
        return True


logging.getLogger("tifffile").addFilter(_NameTheFile())


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Within, whatever tifffile logs (odd tags, repaired offsets) names ``path``."""
    previous = getattr(_reading, "path", None)
    _reading.path = path
    try:
        yield
    finally:
        _reading.path = previous


def tiff_files_in(folder: Path) -> list[Path]:
    """Return the TIFF files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES)


class ImageFileError(ValueError):
    """An image file cannot be used; the message names the file and what was expected."""


def write_tiff(path: str | Path, image: NDArray[np.generic], pixel_size_nm: float) -> Path:
    """Write a 2D image (or a (T, C, Y, X) stack) as an ImageJ TIFF with its pixel size."""
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


@contextmanager
def _opened(path: str | Path) -> Iterator[tifffile.TiffFile]:
    """Open a TIFF; any failure inside is one :class:`ImageFileError` naming the file."""
    source = Path(path)
    if not source.is_file():
        raise ImageFileError(f"{source}: no such image file")
    try:
        with reading(source), tifffile.TiffFile(source) as tif:
            yield tif
    except PermissionError as error:
        raise ImageFileError(f"{source}: cannot be read ({error.strerror})") from None
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as error:
        raise ImageFileError(f"{source}: not a readable TIFF ({error})") from None


def _read(path: str | Path) -> tuple[NDArray[np.generic], str, float | None]:
    with _opened(path) as tif:
        series = tif.series[0]
        return series.asarray(), series.axes, tiff_pixel_size_nm(tif)


def _check_planes(path: str | Path, shape: tuple[int, ...], axes: str) -> None:
    if "S" in axes and shape[axes.index("S")] > 1:
        raise ImageFileError(f"{path}: RGB/multi-sample TIFF; expected single-channel planes")
    if len(shape) < 2:
        raise ImageFileError(f"{path}: image of shape {shape}; expected 2D planes")


def read_tiff_stack(path: str | Path) -> tuple[NDArray[np.generic], float | None]:
    """Read every 2D plane of a TIFF / OME-TIFF as (N, Y, X) with its pixel size in nm.

    Planes keep their dtype; the pixel size is ``None`` when the file records none.

    Raises
    ------
    ImageFileError
        When the file is missing, not a readable TIFF, RGB, or has no 2D planes.
    """
    image, axes, pixel_nm = _read(path)
    _check_planes(path, image.shape, axes)
    return image.reshape(-1, image.shape[-2], image.shape[-1]), pixel_nm


def tiff_stack_planes(path: str | Path) -> tuple[int, float | None]:
    """Count the 2D planes :func:`read_tiff_stack` would return, and the pixel size in nm.

    Reads the file's metadata only, not its pixels.

    Raises
    ------
    ImageFileError
        As :func:`read_tiff_stack`.
    """
    with _opened(path) as tif:
        series = tif.series[0]
        shape, axes, pixel_nm = tuple(series.shape), series.axes, tiff_pixel_size_nm(tif)
    _check_planes(path, shape, axes)
    return int(np.prod(shape[:-2], dtype=np.int64)), pixel_nm


def read_tiff_plane(path: str | Path, index: int) -> NDArray[np.generic]:
    """Read plane ``index`` of :func:`read_tiff_stack`'s (N, Y, X), and only its pages.

    Raises
    ------
    ImageFileError
        When the file or the plane cannot be read.
    """
    with _opened(path) as tif:
        plane = np.asarray(tif.asarray(key=index, series=0))
    return plane.reshape(plane.shape[-2], plane.shape[-1])


def read_tiff(path: str | Path) -> tuple[NDArray[np.float32], float | None]:
    """Read a TIFF image (all its dimensions) as float32, with its pixel size in nm.

    Raises
    ------
    ImageFileError
        When the file is missing or not a readable TIFF.
    """
    image, _, pixel_nm = _read(path)
    return np.asarray(image, dtype=np.float32), pixel_nm


def _ome_root(tif: tifffile.TiffFile) -> ET.Element | None:
    if not tif.is_ome or not tif.ome_metadata:
        return None
    try:
        return ET.fromstring(tif.ome_metadata)
    except ET.ParseError:
        return None


def ome_elements(tif: tifffile.TiffFile, name: str) -> list[ET.Element]:
    """Return the OME-XML elements called ``name`` (any namespace); empty if not OME."""
    root = _ome_root(tif)
    if root is None:
        return []
    return [element for element in root.iter() if element.tag.rsplit("}", 1)[-1] == name]


def _ome_length_nm(attributes: dict[str, str], name: str) -> float | None:
    """Return an OME length (``PhysicalSizeZ`` with ``PhysicalSizeZUnit``) in nm, or None."""
    if name not in attributes:
        return None
    try:
        value = float(attributes[name]) * _UNIT_NM[attributes.get(f"{name}Unit", "µm")]
    except (KeyError, ValueError):
        return None
    return value if value > 0 else None


def ome_image(tif: tifffile.TiffFile, series: int) -> tuple[str, list[str]]:
    """(name, channel names) of OME image ``series``; empty where the file records none."""
    images = ome_elements(tif, "Image")
    if series >= len(images):
        return "", []
    image = images[series]
    channels = [
        element.attrib.get("Name", "")
        for element in image.iter()
        if element.tag.rsplit("}", 1)[-1] == "Channel"
    ]
    return image.attrib.get("Name", ""), channels


def tiff_z_step_nm(tif: tifffile.TiffFile) -> float | None:
    """Distance between z slices recorded in an open TIFF, in nm, or None.

    OME ``PhysicalSizeZ`` first, then ImageJ's ``spacing`` in its ``unit``.
    """
    pixels = ome_elements(tif, "Pixels")
    if pixels:
        return _ome_length_nm(dict(pixels[0].attrib), "PhysicalSizeZ")
    imagej = tif.imagej_metadata or {}
    unit = _UNIT_NM.get(str(imagej.get("unit", "")).strip().lower())
    try:
        spacing = float(imagej["spacing"])
    except (KeyError, TypeError, ValueError):
        return None
    return spacing * unit if unit is not None and spacing > 0 else None


def _ome_pixel_size_nm(tif: tifffile.TiffFile) -> float | None:
    pixels = ome_elements(tif, "Pixels")
    return _ome_length_nm(dict(pixels[0].attrib), "PhysicalSizeX") if pixels else None


def tiff_pixel_size_nm(tif: tifffile.TiffFile) -> float | None:
    """Pixel size recorded in an open TIFF, in nm, or ``None``.

    OME ``PhysicalSizeX`` first; then the resolution tags: centimetres, inches (except screen
    defaults such as 72 dpi, which are no physical size), or ImageJ's unit with ResolutionUnit
    NONE.
    """
    from_ome = _ome_pixel_size_nm(tif)
    if from_ome is not None:
        return from_ome
    page = tif.pages.first
    if "XResolution" not in page.tags:
        return None
    numerator, denominator = page.tags["XResolution"].value
    if numerator <= 0 or denominator <= 0:
        return None
    per_unit = numerator / denominator
    imagej_unit = str((tif.imagej_metadata or {}).get("unit", "")).strip().lower()
    if imagej_unit in _UNIT_NM:
        return _UNIT_NM[imagej_unit] / per_unit
    resolution_unit = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 2
    if resolution_unit == 3:  # centimetre
        return 1e7 / per_unit
    if resolution_unit == 2 and per_unit > 1000:  # inch; 72 dpi screen defaults are not sizes
        return 2.54e7 / per_unit
    return None
