"""OME-NGFF 0.5 metadata: one (t, c, z, y, x) image per position, in bioformats2raw containers.

``OUT.zarr/sr`` and ``OUT.zarr/raw`` are bioformats2raw containers (NGFF 0.5's transitional
layout for several images): numbered images ``0``, ``1``, ... (one per stage position, grid
tile and run) and ``OME/METADATA.ome.xml`` naming them, which readers such as ome-zarr-py's
finder list. Each image carries its pixel sizes and z step as a scale, its stage position as a
translation (so tiles and positions land where they were acquired), its channels' names and
colours, and the position's name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import numpy as np

from tcan_live.core.acquisition import ChannelInfo, Position

NGFF_VERSION = "0.5"
AXES = ("t", "c", "z", "y", "x")
OME_XML_PATH = "OME/METADATA.ome.xml"
_OME_NAMESPACE = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _display_range(dtype: str) -> tuple[float, float]:
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(np.dtype(dtype))
        return float(info.min), float(info.max)
    # Float data (super-resolved frames) stay on the raw intensity scale: show 0..65535.
    return 0.0, 65535.0


def image_name(kind: str, position: Position) -> str:
    """Name an image: by its position's own name where it has one, and what it shows."""
    where = position.name or f"position {position.index}"
    if position.grid:
        where += f" tile {position.grid}"
    if position.run:
        where += f" run {position.run}"
    return f"{where} ({kind})"


def image_attributes(
    kind: str,
    position: Position,
    channels: tuple[ChannelInfo, ...],
    pixel_size_nm: float,
    z_step_nm: float | None,
    time_increment_s: float | None,
    display_dtype: str,
    window: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Return the ``ome`` attributes of one single-resolution NGFF 0.5 image (t, c, z, y, x).

    Parameters
    ----------
    kind
        ``"sr"``, ``"raw"`` or ``"qc"``.
    position
        The image's stage position: its name, and (x, y, z) as a translation in micrometres.
    channels
        Channel names and display colours, in the order of the ``c`` axis.
    pixel_size_nm
        Physical pixel size in y and x; stored in micrometres.
    z_step_nm
        Distance between z slices; unknown: scale 1 and no unit on ``z``.
    time_increment_s
        Interval between time points; unknown: scale 1 and no unit on ``t``.
    display_dtype
        Data type whose range sets the default display window of each channel.
    window
        The display window instead (e.g. -10..10 for consistency z-scores).
    """
    time_axis: dict[str, Any] = {"name": "t", "type": "time"}
    if time_increment_s is not None:
        time_axis["unit"] = "second"
    z_axis: dict[str, Any] = {"name": "z", "type": "space"}
    if z_step_nm is not None:
        z_axis["unit"] = "micrometer"
    pixel_um = pixel_size_nm / 1000.0
    scale = [time_increment_s or 1.0, 1.0, (z_step_nm or 1000.0) / 1000.0, pixel_um, pixel_um]
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    stage = position.stage_um
    if stage is not None and (stage[0] is not None or stage[1] is not None):
        x, y = stage[0] or 0.0, stage[1] or 0.0
        transforms.append({"type": "translation", "translation": [0.0, 0.0, 0.0, y, x]})
    low, high = window or _display_range(display_dtype)
    return {
        "version": NGFF_VERSION,
        "multiscales": [
            {
                "name": image_name(kind, position),
                "axes": [
                    time_axis,
                    {"name": "c", "type": "channel"},
                    z_axis,
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"},
                ],
                "datasets": [{"path": "0", "coordinateTransformations": transforms}],
            }
        ],
        "omero": {
            "channels": [
                {
                    "label": channel.name,
                    "color": channel.color.upper(),
                    "active": True,
                    "window": {"min": low, "max": high, "start": low, "end": high},
                }
                for channel in channels
            ]
        },
    }


def z_step_of(ome: object) -> float | None:
    """Return the z step (nm) an image's ``ome`` attributes record, None when unknown."""
    try:
        multiscale = ome["multiscales"][0]  # type: ignore[index]
        z_axis = multiscale["axes"][2]
        scale = multiscale["datasets"][0]["coordinateTransformations"][0]["scale"]
    except (KeyError, IndexError, TypeError):
        return None
    return float(scale[2]) * 1000.0 if "unit" in z_axis else None


def container_attributes() -> dict[str, Any]:
    """Return the ``ome`` attributes of a bioformats2raw container (images ``0``, ``1``...)."""
    return {"version": NGFF_VERSION, "bioformats2raw.layout": 3}


def ome_xml(names: Sequence[str]) -> str:
    """Return a minimal OME-XML document naming the container's images in series order."""
    ET.register_namespace("", _OME_NAMESPACE)
    root = ET.Element(f"{{{_OME_NAMESPACE}}}OME")
    for series, name in enumerate(names):
        ET.SubElement(root, f"{{{_OME_NAMESPACE}}}Image", {"ID": f"Image:{series}", "Name": name})
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
