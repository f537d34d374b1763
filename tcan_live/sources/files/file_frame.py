"""What the file readers return before a frame is mapped to its place in the acquisition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class IncompleteFileError(Exception):
    """The file (or the next frame in it) is not completely written yet; try again later."""


@dataclass(frozen=True)
class FileFrame:
    """One 2D image read from a file, with whatever the file says about it.

    Attributes
    ----------
    image
        The pixels as stored (not yet checked).
    where
        The frame's place in its file, appended to the origin (e.g. ``"#3"``); empty for
        single-frame files.
    t, channel, pixel_size_nm, timestamp
        From the file's metadata, or None where it has none.
    z, p, g
        The z slice, stage position and grid tile the file records (None: it records none).
    position_name, stage_um
        The position's name and stage (x, y, z) in micrometres, where recorded.
    z_step_nm
        The distance between z slices, where recorded.
    pattern_applies
        Whether the configured file-name pattern names this frame: true for a file holding
        one frame or one stack, false for frames of a Micro-Manager dataset (named by it).
    metadata
        JSON-serialisable extras from the file.
    """

    image: np.ndarray
    where: str = ""
    t: int | None = None
    channel: str | None = None
    pixel_size_nm: float | None = None
    timestamp: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    z: int | None = None
    p: int | None = None
    g: int | None = None
    position_name: str | None = None
    stage_um: tuple[float | None, float | None, float | None] | None = None
    z_step_nm: float | None = None
    pattern_applies: bool = True
