"""Frames that cannot be placed in the output store are kept here, never dropped.

An unknown channel, an unexpected shape or dtype: the store's (t, c, z, y, x) arrays cannot
hold such a frame, but it was acquired and must not be lost. Each one is written as a TIFF with
a JSON side-car (origin, its index, position, reason) inside the output location.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import numpy as np
import tifffile

from tcan_live.core.acquisition import Frame
from tcan_live.core.json_safe import dumps
from tcan_live.core.safe_paths import contained_path, refuse_symlinks, safe_name
from tcan_live.sinks.store_layout import position_document

_LABEL_CHARS = 80


class RejectedFrames:
    """Writes rejected frames to ``folder`` (inside the output location)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._numbers = itertools.count()

    def origins(self) -> set[str]:
        """Origins of the frames kept here (by earlier runs too): not to be taken again."""
        found: set[str] = set()
        if not self.folder.is_dir() or self.folder.is_symlink():
            return found
        for side_car in self.folder.glob("*.json"):
            try:
                origin = json.loads(side_car.read_text()).get("origin")
            except (OSError, ValueError, AttributeError):
                continue  # a side-car cut short by a kill: its frame is taken again
            if isinstance(origin, str):
                found.add(origin)
        return found

    def keep(self, frame: Frame, reason: str) -> Path:
        """Write ``frame`` and why it was rejected; return the TIFF's path."""
        with self._lock:
            refuse_symlinks(self.folder.parent, (self.folder.name,))
            self.folder.mkdir(parents=True, exist_ok=True)
            while True:
                # Names stay short whatever arrives (a channel name can be thousands of
                # characters): the side-car keeps the full channel and origin.
                label = safe_name(f"t{frame.t}_{frame.channel}")[:_LABEL_CHARS]
                stem = f"{label}_{next(self._numbers)}"
                target = contained_path(self.folder, f"{stem}.tif")
                side_car = contained_path(self.folder, f"{stem}.json")
                if not any(p.exists() or p.is_symlink() for p in (target, side_car)):
                    break
            image = np.asarray(frame.image)
            tifffile.imwrite(target, image if image.ndim >= 2 else image.reshape(1, -1))
            description = {
                "t": frame.t,
                "channel": frame.channel,
                "z": frame.z,
                "position": position_document(frame.position),
                "origin": frame.origin,
                "timestamp": frame.timestamp,
                "pixel_size_nm": frame.pixel_size_nm,
                "reason": reason,
                "metadata": dict(frame.metadata),
            }
            side_car.write_text(dumps(description))
            return target
