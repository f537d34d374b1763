"""Read every frame of finished files (any layout the watch folder knows), for replay."""

from __future__ import annotations

from pathlib import Path

from tcan_live.frames import Frame
from tcan_live.sources.mapping import FrameMapper
from tcan_live.sources.mmstack import MMStackFile, is_mmstack_name
from tcan_live.sources.ndtiff_live import INDEX_NAME, NDTiffLive
from tcan_live.sources.raw_frames import BadFrameError, IncompleteFileError, RawFrame
from tcan_live.sources.tiff_frames import read_tiff_frame


def read_file_frames(path: Path, mapper: FrameMapper) -> list[Frame]:
    """All frames in ``path``: a single-frame TIFF, an MMStack file or an NDTiff dataset folder.

    Raises
    ------
    ValueError
        One line naming the file and what was expected, for any unusable or incomplete content.
    """
    raws: list[RawFrame | BadFrameError]
    try:
        if path.is_dir() or path.name == INDEX_NAME:
            folder = path if path.is_dir() else path.parent
            if not (folder / INDEX_NAME).is_file():
                raise BadFrameError(f"expected an NDTiff dataset folder holding {INDEX_NAME}")
            raws = list(NDTiffLive(folder).poll())
        elif is_mmstack_name(path.name):
            raws = list(MMStackFile(path).poll())
        else:
            raws = [read_tiff_frame(path)]
        frames = []
        for raw in raws:
            if isinstance(raw, BadFrameError):
                raise raw
            frames.append(mapper.to_frame(raw, path))
    except (BadFrameError, IncompleteFileError, OSError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return frames
