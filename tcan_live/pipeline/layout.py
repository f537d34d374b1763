"""The output layout of an acquisition, derived from its first frame and the engines."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tcan_live.core.acquisition import AcquisitionLayout, ChannelInfo, Frame
from tcan_live.core.frame_check import FrameRejected
from tcan_live.pipeline.protocols import BatchEnhancer


def layout_from_frame(
    frame: Frame,
    channels: Sequence[ChannelInfo],
    enhancers: Mapping[str, BatchEnhancer],
    time_increment_s: float | None = None,
) -> AcquisitionLayout:
    """Describe the acquisition whose first frame is ``frame``.

    Every channel's super-resolved frames must share one grid (OME-Zarr holds one scale per
    image), so the channels' engines must agree on output pixel size and shape.

    Raises
    ------
    FrameRejected
        The frame has no usable pixel size or is not 2D.
    ValueError
        The channels' engines produce different output grids.
    """
    if frame.image.ndim != 2:
        raise FrameRejected(f"first frame of shape {frame.image.shape}: expected a 2D image")
    size = frame.pixel_size_nm
    if size is None or not math.isfinite(size) or size <= 0:
        raise FrameRejected(
            f"first frame ({frame.origin}) has no usable pixel size ({size!r}); set one in "
            "the source config or with --pixel-size"
        )
    raw_shape = (int(frame.image.shape[0]), int(frame.image.shape[1]))
    grids = {
        name: (enhancer.output_shape(raw_shape, size), enhancer.output_pixel_size_nm)
        for name, enhancer in enhancers.items()
    }
    if len(set(grids.values())) > 1:
        described = ", ".join(f"{n}: {s[0]} at {s[1]:g} nm" for n, s in grids.items())
        raise ValueError(
            f"channels' engines give different output grids ({described}); use engines with "
            "the same training pixel size and scale in one acquisition"
        )
    sr_shape, sr_pixel_size = next(iter(grids.values()))
    return AcquisitionLayout(
        channels=tuple(channels),
        raw_shape=raw_shape,
        raw_pixel_size_nm=size,
        sr_shape=sr_shape,
        sr_pixel_size_nm=sr_pixel_size,
        raw_dtype=str(frame.image.dtype),
        time_increment_s=time_increment_s,
        z_step_nm=frame.z_step_nm,
    )
