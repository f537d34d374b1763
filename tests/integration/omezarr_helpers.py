"""Deterministic frames and layouts shared by the OME-Zarr tests and their child writer."""

from __future__ import annotations

import numpy as np

from tcan_live.core.acquisition import AcquisitionLayout, ChannelInfo, EnhanceResult, Frame

CHANNELS = ("microtubules", "actin")
RAW_SHAPE = (24, 32)


def layout(raw_shape: tuple[int, int] = RAW_SHAPE, scale: int = 2) -> AcquisitionLayout:
    return AcquisitionLayout(
        channels=(ChannelInfo("microtubules", "FF00FF"), ChannelInfo("actin", "00FFFF")),
        raw_shape=raw_shape,
        raw_pixel_size_nm=100.0,
        sr_shape=(raw_shape[0] * scale, raw_shape[1] * scale),
        sr_pixel_size_nm=100.0 / scale,
        raw_dtype="uint16",
        time_increment_s=20.0,
    )


def raw_frame(t: int, channel: str, shape: tuple[int, int] = RAW_SHAPE) -> Frame:
    seed = t * 10 + CHANNELS.index(channel)
    image = np.random.default_rng(seed).integers(0, 4096, size=shape, dtype=np.uint16)
    return Frame(
        image=image,
        t=t,
        channel=channel,
        pixel_size_nm=100.0,
        timestamp=1_700_000_000.0 + 20.0 * t,
        origin=f"test:{t}/{channel}",
        metadata={"seed": seed},
    )


def enhance(frame: Frame, scale: int = 2) -> EnhanceResult:
    image = np.kron(frame.image.astype(np.float32), np.ones((scale, scale), np.float32)) * 0.5
    return EnhanceResult(image=image, pixel_size_nm=100.0 / scale)
