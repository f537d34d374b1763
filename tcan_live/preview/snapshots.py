"""Dual-colour views of received previews, and PNG snapshots of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tcan_live.core.colors import is_color
from tcan_live.core.safe_paths import contained_path, safe_name
from tcan_live.preview.imaging import make_composite
from tcan_live.preview.protocol import Preview


class CompositeBuilder:
    """Turns a stream of previews into RGB views.

    A composite preview is shown as it is; a single-channel preview is combined with the
    latest preview of every other channel of the same kind (and shape) in the channels'
    colours, so a dual-colour acquisition shows magenta microtubules over cyan actin.
    """

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], tuple[np.ndarray, str]] = {}

    def rgb_for(self, preview: Preview) -> np.ndarray:
        """Return the RGB uint8 image that shows ``preview``."""
        if preview.kind == "composite":
            return preview.image
        color = preview.header.get("color")
        self._latest[(preview.kind, preview.channel)] = (
            preview.image,
            str(color) if is_color(color) else "FFFFFF",
        )
        layers = [
            layer
            for (kind, _), layer in sorted(self._latest.items())
            if kind == preview.kind and layer[0].shape == preview.image.shape
        ]
        return make_composite([image for image, _ in layers], [c for _, c in layers])


class SnapshotWriter:
    """Saves RGB views as PNG files in ``directory``.

    File names come from the sequence number, kind and time index only (sanitised) and
    never leave ``directory``, whatever a publisher puts in its headers.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def save(self, preview: Preview, rgb: np.ndarray) -> Path:
        """Write ``rgb`` as the snapshot of ``preview`` and return its path."""
        from PIL import Image

        name = safe_name(f"{int(preview.header['seq']):06d}_{preview.kind}_t{preview.t:05d}.png")
        path = contained_path(self.directory, name)
        Image.fromarray(rgb).save(path, format="PNG", compress_level=1)
        self.saved.append(path)
        return path
