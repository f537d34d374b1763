"""OME-NGFF 0.5 metadata for a (t, c, y, x) time-lapse image: axes, scales, channel colours."""

from __future__ import annotations

from typing import Any

import numpy as np

from tcan_live.core.acquisition import ChannelInfo

NGFF_VERSION = "0.5"
AXES = ("t", "c", "y", "x")


def _display_range(dtype: str) -> tuple[float, float]:
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(np.dtype(dtype))
        return float(info.min), float(info.max)
    # Float data (super-resolved frames) stay on the raw intensity scale: show 0..65535.
    return 0.0, 65535.0


def image_attributes(
    name: str,
    channels: tuple[ChannelInfo, ...],
    pixel_size_nm: float,
    time_increment_s: float | None,
    display_dtype: str,
) -> dict[str, Any]:
    """Return the ``ome`` attributes of one single-resolution NGFF 0.5 image.

    Parameters
    ----------
    name
        Image name (``"sr"`` or ``"raw"``).
    channels
        Channel names and display colours, in the order of the ``c`` axis.
    pixel_size_nm
        Physical pixel size in y and x; stored in micrometres.
    time_increment_s
        Interval between time points; when unknown the ``t`` scale is 1 and carries no unit.
    display_dtype
        Data type whose range sets the default display window of each channel.
    """
    time_axis: dict[str, Any] = {"name": "t", "type": "time"}
    if time_increment_s is not None:
        time_axis["unit"] = "second"
    pixel_um = pixel_size_nm / 1000.0
    low, high = _display_range(display_dtype)
    return {
        "version": NGFF_VERSION,
        "multiscales": [
            {
                "name": name,
                "axes": [
                    time_axis,
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"},
                ],
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [
                            {
                                "type": "scale",
                                "scale": [time_increment_s or 1.0, 1.0, pixel_um, pixel_um],
                            }
                        ],
                    }
                ],
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
