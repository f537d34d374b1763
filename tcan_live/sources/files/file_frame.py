"""What the file readers return before a frame is mapped to the acquisition's (t, channel)."""

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
