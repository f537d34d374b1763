"""Where everything lies in a tcan-live store (format 2), and how a reader finds it.

Layout of ``OUT.zarr`` (see docs/outputs.md)::

    zarr.json                  root group; ``tcan_live``: format, acquisition layout, images
    .tcan-live.lock            the writer's lock (see .store_lock)
    sr/   zarr.json            bioformats2raw container of the super-resolved images
    sr/OME/METADATA.ome.xml    the images' names, in series order
    sr/0/ zarr.json, 0/        NGFF image: position 0, float32 (t, c, z, y, x)
    sr/1/ ...                  one image per stage position, grid tile and run
    raw/  ...                  the same for the raw frames (when ``include_raw``)
    qc/   ...                  each frame's consistency map, float32 on the raw grid (when
                               ``include_qc`` and the stream checks its results)
    tcan_live/journal.jsonl    one JSON line per event: raw stored, SR stored, frame skipped
    tcan_live/backlog/<n>      raw frames awaiting SR when ``include_raw`` is off
    tcan_live/rejected/        frames the arrays cannot hold, as TIFF + JSON (see .rejected)

Only this module spells the layout; other code asks :func:`open_sr`, :func:`open_raw`,
:func:`open_qc`,
:func:`stored_images`, :func:`stored_layout` and :func:`rejected_dir`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import zarr
from zarr.core.array import Array
from zarr.storage import LocalStore

from tcan_live.core.acquisition import (
    AcquisitionLayout,
    ChannelInfo,
    FrameKey,
    ImageKey,
    Position,
)
from tcan_live.sinks.store_lock import LOCK_NAME

ZarrArray = Array[Any]
FORMAT_VERSION = 2
LAYOUT_ATTRIBUTE = "tcan_live"
SR_GROUP = "sr"
RAW_GROUP = "raw"
QC_GROUP = "qc"
JOURNAL_PATH = "tcan_live/journal.jsonl"
BACKLOG_GROUP = "tcan_live/backlog"
REJECTED_PATH = "tcan_live/rejected"
WRITTEN_DIRS = (SR_GROUP, RAW_GROUP, QC_GROUP, "tcan_live", BACKLOG_GROUP)


class LayoutMismatchError(ValueError):
    """An existing store was written for a different acquisition layout (or format)."""


@dataclass(frozen=True)
class StoredImage:
    """One image of a store: its series number and the position it holds."""

    series: int
    position: Position

    @property
    def key(self) -> ImageKey:
        """The (position, tile, run) the image holds."""
        return self.position.key


def image_path(group: str, series: int) -> str:
    """Return the image group of ``series`` inside ``group`` (``sr``, ``raw``, backlog)."""
    return f"{group}/{series}"


def array_path(group: str, series: int) -> str:
    """Return the full-resolution array of an image (its NGFF dataset ``0``)."""
    return f"{image_path(group, series)}/0"


def open_sr(path: str | Path, series: int = 0) -> ZarrArray:
    """Open a store's super-resolved array (t, c, z, y, x) of image ``series``, read-only."""
    location = Path(path) / array_path(SR_GROUP, series)
    return zarr.open_array(LocalStore(location, read_only=True), mode="r")


def open_raw(path: str | Path, series: int = 0) -> ZarrArray:
    """Open a store's raw array (t, c, z, y, x) of image ``series``, read-only."""
    location = Path(path) / array_path(RAW_GROUP, series)
    return zarr.open_array(LocalStore(location, read_only=True), mode="r")


def open_qc(path: str | Path, series: int = 0) -> ZarrArray:
    """Open a store's consistency maps (t, c, z, y, x) of image ``series``, read-only.

    Raises
    ------
    FileNotFoundError
        The store keeps no consistency maps (``include_qc`` off, or written before them).
    """
    location = Path(path) / array_path(QC_GROUP, series)
    if not (location / "zarr.json").exists():
        raise FileNotFoundError(f"{path}: no consistency maps ({QC_GROUP}/{series}) in the store")
    return zarr.open_array(LocalStore(location, read_only=True), mode="r")


def rejected_dir(path: str | Path) -> Path:
    """Where frames a store cannot hold are kept (TIFF + JSON), inside the store."""
    return Path(path) / REJECTED_PATH


def position_document(position: Position) -> dict[str, Any]:
    """Return a position as stored in the image's and the root's attributes (JSON)."""
    document = asdict(position)
    document["stage_um"] = list(position.stage_um) if position.stage_um is not None else None
    return document


def position_from(document: Mapping[str, Any]) -> Position:
    """Return the :class:`Position` stored by :func:`position_document`."""
    stage = document.get("stage_um")
    return Position(
        index=int(document.get("index", 0)),
        grid=int(document.get("grid", 0)),
        run=int(document.get("run", 0)),
        name=str(document.get("name", "")),
        stage_um=tuple(stage) if isinstance(stage, list) and len(stage) == 3 else None,
    )


def record_key(record: Mapping[str, Any]) -> FrameKey:
    """Return the key a journal record is about (axes it does not name are 0)."""
    return FrameKey(
        int(record["t"]),
        str(record["channel"]),
        int(record.get("z", 0)),
        int(record.get("p", 0)),
        int(record.get("g", 0)),
        int(record.get("run", 0)),
    )


def layout_document(layout: AcquisitionLayout, include_raw: bool) -> dict[str, Any]:
    """Return the acquisition layout as stored in the root attributes."""
    document = asdict(layout)
    document["channels"] = [asdict(channel) for channel in layout.channels]
    document["raw_shape"] = list(layout.raw_shape)
    document["sr_shape"] = list(layout.sr_shape)
    document["include_raw"] = include_raw
    return document


def is_unstarted_store(path: Path) -> bool:
    """Whether ``path`` is a folder a writer locked but never wrote a frame to (or empty)."""
    return path.is_dir() and {p.name for p in path.iterdir()} <= {LOCK_NAME}


def stored_document(root_path: Path) -> dict[str, Any] | None:
    """Return a store's root ``tcan_live`` document, or None where no store exists yet.

    Raises
    ------
    LayoutMismatchError
        The path holds a Zarr store not written by tcan-live, or one of another format.
    """
    if not (root_path / "zarr.json").exists():
        return None
    root = zarr.open_group(LocalStore(root_path, read_only=True), mode="r")
    document = root.attrs.get(LAYOUT_ATTRIBUTE, {})
    if not isinstance(document, dict) or "layout" not in document:
        raise LayoutMismatchError(
            f"{root_path} is a Zarr store not written by tcan-live "
            f"(no '{LAYOUT_ATTRIBUTE}' attribute): choose another output path"
        )
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise LayoutMismatchError(
            f"{root_path} was written in tcan-live store format {version} (one t x c image per "
            f"kind); this version writes format {FORMAT_VERSION} (an image per position, with "
            "z): finish it with the tcan-live that started it, or choose another output path"
        )
    return document


def stored_layout(path: str | Path) -> AcquisitionLayout | None:
    """Return the layout an existing tcan-live store was written for, or None if none exists.

    Lets a restarted daemon set the store up (and resume its backlog) before any new frame
    arrives.

    Raises
    ------
    LayoutMismatchError
        The path holds a Zarr store not written by tcan-live, or another format.
    """
    document = stored_document(Path(path))
    if document is None:
        return None
    stored = dict(document["layout"])
    stored.pop("include_raw", None)
    stored["channels"] = tuple(ChannelInfo(**channel) for channel in stored["channels"])
    stored["raw_shape"] = tuple(stored["raw_shape"])
    stored["sr_shape"] = tuple(stored["sr_shape"])
    return AcquisitionLayout(**stored)


def stored_includes_raw(path: str | Path) -> bool:
    """Return whether a store keeps its raw frames as images (``output.include_raw``)."""
    document = stored_document(Path(path))
    return bool(document is None or document["layout"].get("include_raw", True))


def stored_images(path: str | Path) -> list[StoredImage]:
    """Return the images of a store, in series order (none for a store without frames)."""
    document = stored_document(Path(path))
    if document is None:
        return []
    return [
        StoredImage(int(entry["series"]), position_from(entry["position"]))
        for entry in document.get("images", [])
    ]
