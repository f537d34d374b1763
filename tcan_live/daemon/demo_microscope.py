"""A simulated microscope on a real Micro-Manager core (pymmcore-plus ``UniMMCore``).

Pure-Python devices stand in for the hardware: a camera that replays a given stack, a filter
wheel whose state selects the channel, a shutter (an MDA aborts without one), and a focus
(Z) stage and an XY stage, so MDAs with z-stacks, stage positions and grids run as on a real
microscope. The camera returns the plane of the stack that the stages and the wheel select.
The acquisition itself (``core.mda.run``) is pymmcore-plus's real engine, so ``tcan-live
demo`` and the tests exercise exactly the path a real microscope takes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np
from pymmcore_plus.experimental.unicore import (
    ShutterDevice,
    SimpleCameraDevice,
    StageDevice,
    StateDevice,
    UniMMCore,
    XYStageDevice,
)

CAMERA = "Camera"
FILTER_WHEEL = "FilterWheel"
SHUTTER = "Shutter"
FOCUS = "Focus"
XY_STAGE = "XYStage"
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


class FocusStage(StageDevice):
    """A focus drive that remembers its position (um)."""

    def __init__(self) -> None:
        super().__init__()
        self._um = 0.0

    def get_position_um(self) -> float:
        """Return the focus position."""
        return self._um

    def set_position_um(self, value: float) -> None:
        """Move the focus."""
        self._um = float(value)

    def set_origin(self) -> None:
        """Make the current position 0."""
        self._um = 0.0

    def home(self) -> None:
        """Move to 0."""
        self._um = 0.0

    def stop(self) -> None:
        """Nothing moves on its own here."""


class XYStage(XYStageDevice):
    """An XY stage that remembers its position (um)."""

    def __init__(self) -> None:
        super().__init__()
        self._xy = (0.0, 0.0)

    def get_position_um(self) -> tuple[float, float]:
        """Return (x, y)."""
        return self._xy

    def set_position_um(self, x: float, y: float) -> None:
        """Move to (x, y)."""
        self._xy = (float(x), float(y))

    def set_origin_x(self) -> None:
        """Make the current x the origin."""
        self._xy = (0.0, self._xy[1])

    def set_origin_y(self) -> None:
        """Make the current y the origin."""
        self._xy = (self._xy[0], 0.0)

    def home(self) -> None:
        """Move to (0, 0)."""
        self._xy = (0.0, 0.0)

    def stop(self) -> None:
        """Nothing moves on its own here."""


class ReplayCamera(SimpleCameraDevice):
    """A camera returning ``stack[p, t, c, z]``: the plane the wheel and stages select.

    ``c`` is the filter wheel's position, ``z`` the focus position's slice (slices are
    ``z_step_um`` apart, centred on focus 0), ``p`` the stage position nearest the XY stage,
    and ``t`` counts the snaps taken at that (p, c, z), wrapping around after T.
    """

    def __init__(
        self,
        stack: np.ndarray,
        wheel: FilterWheel,
        focus: FocusStage,
        xy: XYStage,
        z_step_um: float,
        positions_um: Sequence[tuple[float, float]],
    ) -> None:
        super().__init__()
        self._stack = stack
        self._wheel, self._focus, self._xy = wheel, focus, xy
        self._z_step_um = z_step_um
        self._positions = np.asarray(positions_um, dtype=float).reshape(-1, 2)
        self._exposure_ms = 10.0
        self._snaps: dict[tuple[int, int, int], int] = {}

    def get_exposure(self) -> float:
        """Exposure time in ms (recorded, not simulated)."""
        return self._exposure_ms

    def set_exposure(self, exposure: float) -> None:
        """Set the exposure time in ms."""
        self._exposure_ms = float(exposure)

    def sensor_shape(self) -> tuple[int, int]:
        """(height, width) of the replayed frames."""
        return (int(self._stack.shape[-2]), int(self._stack.shape[-1]))

    def dtype(self) -> np.dtype[np.generic]:
        """Pixel type of the replayed frames."""
        return self._stack.dtype

    def snap(self, buffer: np.ndarray) -> Mapping[str, int]:
        """Fill ``buffer`` with the next frame at the selected position, channel and slice."""
        slices = self._stack.shape[3]
        centre = (slices - 1) / 2
        z = int(
            np.clip(round(self._focus.get_position_um() / self._z_step_um + centre), 0, slices - 1)
        )
        distance = np.hypot(*(self._positions - np.asarray(self._xy.get_position_um())).T)
        p, c = int(np.argmin(distance)), self._wheel.get_state()
        count = self._snaps.get((p, c, z), 0)
        self._snaps[(p, c, z)] = count + 1
        t = count % self._stack.shape[1]
        buffer[:] = self._stack[p, t, c, z]
        return {"replay_p": p, "replay_t": t, "replay_c": c, "replay_z": z}


def _validate(stack: np.ndarray, channel_names: Sequence[str], pixel_size_um: float) -> None:
    if stack.ndim != 6:
        raise ValueError(f"stack: expected a (P, T, C, Z, Y, X) array, got shape {stack.shape}")
    if stack.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"stack: expected uint8 or uint16 pixels, got {stack.dtype}")
    if len(channel_names) != stack.shape[2] or len(set(channel_names)) != len(channel_names):
        raise ValueError(
            f"channel_names: expected {stack.shape[2]} unique names (the stack's C axis), "
            f"got {list(channel_names)}"
        )
    if not 0 < pixel_size_um < 1000:
        raise ValueError(f"pixel_size_um: expected a size in um (0, 1000), got {pixel_size_um}")


def build_demo_core(
    stack: np.ndarray,
    channel_names: list[str],
    pixel_size_um: float,
    *,
    z_step_um: float = 1.0,
    positions_um: Sequence[tuple[float, float]] = ((0.0, 0.0),),
) -> UniMMCore:
    """Return an initialised ``UniMMCore`` whose camera replays ``stack``.

    Parameters
    ----------
    stack
        (T, C, Y, X) or (P, T, C, Z, Y, X) uint8 or uint16 frames (see :class:`ReplayCamera`).
    channel_names
        One name per C index; each becomes a preset of the ``"Channel"`` config group (the
        core's channel group), so ``useq.MDASequence(channels=channel_names)`` selects them.
    pixel_size_um
        The pixel size the core reports (``getPixelSizeUm``, frame metadata).
    z_step_um
        Focus distance between the stack's slices (centred on focus 0).
    positions_um
        The XY stage position (x, y) of each of the stack's positions.

    Returns
    -------
    UniMMCore
        Ready for ``core.mda.run(useq.MDASequence(...))``.
    """
    if stack.ndim == 4:  # (T, C, Y, X): one position, one slice
        stack = stack[None, :, :, None]
    _validate(stack, channel_names, pixel_size_um)
    if len(positions_um) != stack.shape[0]:
        raise ValueError(
            f"positions_um: expected {stack.shape[0]} positions (the stack's P axis), "
            f"got {len(positions_um)}"
        )
    # UniMMCore logs an error when it finds no Micro-Manager installation; any existing folder
    # satisfies the lookup, and no adapter library is ever loaded from it.
    os.environ.setdefault("MICROMANAGER_PATH", tempfile.gettempdir())
    core = UniMMCore()
    wheel = FilterWheel(dict(enumerate(channel_names)))
    focus, xy = FocusStage(), XYStage()
    core.loadPyDevice(FILTER_WHEEL, wheel)
    core.loadPyDevice(FOCUS, focus)
    core.loadPyDevice(XY_STAGE, xy)
    core.loadPyDevice(CAMERA, ReplayCamera(stack, wheel, focus, xy, z_step_um, positions_um))
    core.loadPyDevice(SHUTTER, Shutter())
    core.initializeAllDevices()
    core.setCameraDevice(CAMERA)
    core.setShutterDevice(SHUTTER)
    core.setFocusDevice(FOCUS)
    core.setXYStageDevice(XY_STAGE)
    for name in channel_names:
        core.defineConfig(CHANNEL_GROUP, name, FILTER_WHEEL, "Label", name)
    core.setChannelGroup(CHANNEL_GROUP)
    core.definePixelSizeConfig(PIXEL_SIZE_CONFIG)
    core.setPixelSizeUm(PIXEL_SIZE_CONFIG, pixel_size_um)
    core.setPixelSizeConfig(PIXEL_SIZE_CONFIG)
    return core
