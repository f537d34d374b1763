"""A simulated microscope on a real Micro-Manager core (pymmcore-plus ``UniMMCore``).

Three pure-Python devices stand in for the hardware: a camera that replays a given
(T, C, Y, X) stack, a filter wheel whose state selects the channel, and a shutter (an MDA aborts
without one). The acquisition itself (``core.mda.run``) is pymmcore-plus's real engine, so
``tcan-live demo`` and the tests exercise exactly the path a real microscope takes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np
from pymmcore_plus.experimental.unicore import (
    ShutterDevice,
    SimpleCameraDevice,
    StateDevice,
    UniMMCore,
)

CAMERA = "Camera"
FILTER_WHEEL = "FilterWheel"
SHUTTER = "Shutter"
CHANNEL_GROUP = "Channel"
PIXEL_SIZE_CONFIG = "Demo"


class FilterWheel(StateDevice):
    """A filter wheel with one position per channel."""

    def __init__(self, labels: Mapping[int, str]) -> None:
        super().__init__(labels)
        self._state = 0

    def get_state(self) -> int:
        """Return the current position."""
        return self._state

    def set_state(self, position: int) -> None:
        """Move to ``position``."""
        self._state = int(position)


class Shutter(ShutterDevice):
    """A shutter that only remembers whether it is open."""

    def __init__(self) -> None:
        super().__init__()
        self._open = False

    def get_open(self) -> bool:
        """Return True when open."""
        return self._open

    def set_open(self, open: bool) -> None:
        """Open or close."""
        self._open = bool(open)


class ReplayCamera(SimpleCameraDevice):
    """A camera returning ``stack[t, c]``: c from the filter wheel, t counted per channel."""

    def __init__(self, stack: np.ndarray, wheel: FilterWheel) -> None:
        super().__init__()
        self._stack = stack
        self._wheel = wheel
        self._exposure_ms = 10.0
        self._snaps_per_channel = [0] * stack.shape[1]

    def get_exposure(self) -> float:
        """Exposure time in ms (recorded, not simulated)."""
        return self._exposure_ms

    def set_exposure(self, exposure: float) -> None:
        """Set the exposure time in ms."""
        self._exposure_ms = float(exposure)

    def sensor_shape(self) -> tuple[int, int]:
        """(height, width) of the replayed frames."""
        return (int(self._stack.shape[2]), int(self._stack.shape[3]))

    def dtype(self) -> np.dtype[np.generic]:
        """Pixel type of the replayed frames."""
        return self._stack.dtype

    def snap(self, buffer: np.ndarray) -> Mapping[str, int]:
        """Fill ``buffer`` with the next frame of the selected channel."""
        c = self._wheel.get_state()
        t = self._snaps_per_channel[c] % self._stack.shape[0]
        self._snaps_per_channel[c] += 1
        buffer[:] = self._stack[t, c]
        return {"replay_t": t, "replay_c": c}


def _validate(stack: np.ndarray, channel_names: Sequence[str], pixel_size_um: float) -> None:
    if stack.ndim != 4:
        raise ValueError(f"stack: expected a (T, C, Y, X) array, got shape {stack.shape}")
    if stack.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"stack: expected uint8 or uint16 pixels, got {stack.dtype}")
    if len(channel_names) != stack.shape[1] or len(set(channel_names)) != len(channel_names):
        raise ValueError(
            f"channel_names: expected {stack.shape[1]} unique names (the stack's C axis), "
            f"got {list(channel_names)}"
        )
    if not 0 < pixel_size_um < 1000:
        raise ValueError(f"pixel_size_um: expected a size in um (0, 1000), got {pixel_size_um}")


def build_demo_core(stack: np.ndarray, channel_names: list[str], pixel_size_um: float) -> UniMMCore:
    """Return an initialised ``UniMMCore`` whose camera replays ``stack``.

    Parameters
    ----------
    stack
        (T, C, Y, X) uint8 or uint16 frames. The camera returns ``stack[t, c]`` where ``c`` is
        the filter wheel's position and ``t`` counts the snaps taken in that channel (wrapping
        around after T).
    channel_names
        One name per C index; each becomes a preset of the ``"Channel"`` config group (the
        core's channel group), so ``useq.MDASequence(channels=channel_names)`` selects them.
    pixel_size_um
        The pixel size the core reports (``getPixelSizeUm``, frame metadata).

    Returns
    -------
    UniMMCore
        Ready for ``core.mda.run(useq.MDASequence(...))``.
    """
    _validate(stack, channel_names, pixel_size_um)
    # UniMMCore logs an error when it finds no Micro-Manager installation; any existing folder
    # satisfies the lookup, and no adapter library is ever loaded from it.
    os.environ.setdefault("MICROMANAGER_PATH", tempfile.gettempdir())
    core = UniMMCore()
    wheel = FilterWheel(dict(enumerate(channel_names)))
    core.loadPyDevice(FILTER_WHEEL, wheel)
    core.loadPyDevice(CAMERA, ReplayCamera(stack, wheel))
    core.loadPyDevice(SHUTTER, Shutter())
    core.initializeAllDevices()
    core.setCameraDevice(CAMERA)
    core.setShutterDevice(SHUTTER)
    for name in channel_names:
        core.defineConfig(CHANNEL_GROUP, name, FILTER_WHEEL, "Label", name)
    core.setChannelGroup(CHANNEL_GROUP)
    core.definePixelSizeConfig(PIXEL_SIZE_CONFIG)
    core.setPixelSizeUm(PIXEL_SIZE_CONFIG, pixel_size_um)
    core.setPixelSizeConfig(PIXEL_SIZE_CONFIG)
    return core
