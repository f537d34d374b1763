"""Which reader a file needs, written once for the watch folder and for replay.

Three layouts: a single-frame TIFF / OME-TIFF, a Micro-Manager MMStack file (many frames, still
being written while acquiring) and an NDTiff dataset (a folder with ``NDTiff.index``). The two
multi-frame layouts are read incrementally by a :class:`LiveReader`, which returns each frame
once it is completely written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from tcan_live.core.acquisition import Frame
from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.tiff_files import TIFF_SUFFIXES
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.files.mapping import FrameMapper
from tcan_live.sources.files.mmstack import MMStackReader, is_mmstack_name
from tcan_live.sources.files.ndtiff_dataset import INDEX_NAME, NDTiffReader, is_ndtiff_data_name
from tcan_live.sources.files.single_tiff import read_tiff_planes

FileLayout = Literal["single", "mmstack", "ndtiff"]


class LiveReader(Protocol):
    """Follows a multi-frame file or dataset and returns each frame once, when complete."""

    def poll(self) -> list[FileFrame | FrameRejected]:
        """Return the frames completed since the last poll; unusable ones as the error."""
        ...


def file_layout(path: Path) -> FileLayout | None:
    """Return how ``path`` is read, or None when it holds no frames tcan-live reads.

    An NDTiff dataset is recognised by its folder, its index or any of its data files (all of
    them stand for the dataset, which is read through its index).
    """
    if path.is_dir():
        return "ndtiff" if (path / INDEX_NAME).is_file() else None
    name = path.name
    if name == INDEX_NAME or is_ndtiff_data_name(name):
        return "ndtiff" if (path.parent / INDEX_NAME).exists() else None
    if not name.lower().endswith(TIFF_SUFFIXES):
        return None
    return "mmstack" if is_mmstack_name(name) else "single"


def dataset_path(path: Path, layout: FileLayout) -> Path:
    """Return the path standing for the dataset ``path`` belongs to (its live reader's key)."""
    if layout != "ndtiff":
        return path
    return path / INDEX_NAME if path.is_dir() else path.parent / INDEX_NAME


def open_live_reader(path: Path, layout: FileLayout) -> LiveReader:
    """Open the incremental reader of an MMStack file or an NDTiff dataset."""
    if layout == "ndtiff":
        return NDTiffReader(dataset_path(path, layout).parent)
    if layout == "mmstack":
        return MMStackReader(path)
    raise ValueError(f"{path}: a single-frame TIFF has no live reader")


def read_finished_file(path: Path, mapper: FrameMapper) -> list[Frame]:
    """All frames in a finished file or dataset, mapped and checked (for replay).

    Raises
    ------
    ValueError
        One line naming the file and what was expected, for any unusable or incomplete content.
    """
    layout = file_layout(path)
    try:
        if layout is None:
            raise FrameRejected(
                "expected a TIFF / OME-TIFF file, an MMStack file or an NDTiff dataset folder"
            )
        raws: list[FileFrame | FrameRejected]
        if layout == "single":
            raws = list(read_tiff_planes(path))
        else:
            raws = open_live_reader(path, layout).poll()
        frames = []
        for raw in raws:
            if isinstance(raw, FrameRejected):
                raise raw
            frames.append(mapper.to_frame(raw, path))
    except (FrameRejected, IncompleteFileError, OSError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return frames
