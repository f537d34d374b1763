"""Incremental reader for NDTiff datasets (pycromanager, Micro-Magellan) being acquired.

An NDTiff dataset is a folder holding ``NDTiff.index`` and ``*_NDTiffStack*.tif``. The TIFF files
are pre-allocated, so their size says nothing. The index is append-only, one entry per image
(Java pre-sizes it with zeros): uint32 length + JSON axes, uint32 length + TIFF file name, then
eight uint32 (pixel offset, width, height, pixel type, pixel compression, metadata offset,
metadata length, metadata compression). Image k is taken once entry k is complete and its JSON
metadata, written after its pixels, decodes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.core.frame_check import FrameRejected
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.metadata import ElapsedClock, stage_of, um_to_nm

INDEX_NAME = "NDTiff.index"
_EIGHT_BIT, _RGB = 0, 2
_SIXTEEN_BIT_TYPES = {1, 3, 4, 5, 6}  # 16, 10, 12, 14 and 11 bits, all stored in 2 bytes


def is_ndtiff_data_name(name: str) -> bool:
    """Whether a file name is one of an NDTiff dataset's TIFF files (read via the index)."""
    return "ndtiffstack" in name.lower() and name.lower().endswith((".tif", ".tiff"))


@dataclass(frozen=True)
class IndexEntry:
    """One image's entry in ``NDTiff.index``."""

    axes: dict[str, Any]
    filename: str
    pixel_offset: int
    width: int
    height: int
    pixel_type: int
    pixel_compression: int
    metadata_offset: int
    metadata_length: int


def parse_index(data: bytes) -> tuple[list[IndexEntry], int]:
    """Parse the complete entries at the start of ``data``.

    Returns
    -------
    entries, consumed
        The complete entries and the number of bytes they take (parsing resumes there once
        more of the index is written).
    """
    entries: list[IndexEntry] = []
    pos = 0
    while True:
        if pos + 4 > len(data):
            break
        (axes_length,) = struct.unpack_from("<I", data, pos)
        if axes_length == 0:  # zero pre-sizing: nothing written here yet
            break
        name_at = pos + 4 + axes_length
        if name_at + 4 > len(data):
            break
        (name_length,) = struct.unpack_from("<I", data, name_at)
        fields_at = name_at + 4 + name_length
        if fields_at + 32 > len(data):
            break
        try:
            axes = json.loads(data[pos + 4 : name_at].decode("utf-8"))
            filename = data[name_at + 4 : fields_at].decode("utf-8")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FrameRejected(f"{INDEX_NAME}: corrupt entry at byte {pos} ({exc})") from exc
        pixels, width, height, kind, compression, md_at, md_length, _ = struct.unpack_from(
            "<8I", data, fields_at
        )
        pos = fields_at + 32
        if not isinstance(axes, dict):
            continue  # the "dataset finished" marker has no axes
        entries.append(
            IndexEntry(axes, filename, pixels, width, height, kind, compression, md_at, md_length)
        )
    return entries, pos


class NDTiffReader:
    """Follows one NDTiff dataset folder and returns each image once it is complete."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._index_pos = 0
        self._pending: list[IndexEntry] = []
        self.frames_read = 0
        self._clock = ElapsedClock()

    def poll(self) -> list[FileFrame | FrameRejected]:
        """Return the images completed since the last poll, in index order.

        An image that cannot be used (unsupported pixel type, extra z/position axes, a file name
        leaving the dataset folder) comes back as a :class:`FrameRejected` in its place; the reader
        moves past it.
        """
        with (self.directory / INDEX_NAME).open("rb") as fh:
            fh.seek(self._index_pos)
            data = fh.read()
        entries, consumed = parse_index(data)
        self._index_pos += consumed
        self._pending.extend(entries)
        results: list[FileFrame | FrameRejected] = []
        while self._pending:
            try:
                result: FileFrame | FrameRejected = self.read(self._pending[0], self.frames_read)
            except IncompleteFileError:
                break
            except FrameRejected as exc:
                result = exc
            self._pending.pop(0)
            self.frames_read += 1
            results.append(result)
        return results

    def index(self) -> list[IndexEntry]:
        """Every image the index lists now, in index order (for reading them out of order).

        E.g. each in another process (``tcan-live batch``); reads only ``NDTiff.index``.
        """
        return parse_index((self.directory / INDEX_NAME).read_bytes())[0]

    def read(self, entry: IndexEntry, number: int) -> FileFrame:
        """Read the image of one index entry, the ``number``-th of the dataset (its origin).

        Raises
        ------
        IncompleteFileError
            The image is not completely written yet.
        FrameRejected
            The image cannot be used (the message says why).
        """
        where = f"#{number}"
        try:
            image, meta = self._read(entry)
            return _raw_frame(entry, image, meta, where, self._clock)
        except FrameRejected as exc:
            raise FrameRejected(f"image {where} {entry.axes}: {exc}") from exc

    def _read(self, entry: IndexEntry) -> tuple[np.ndarray, dict[str, Any]]:
        if entry.pixel_type == _RGB or entry.pixel_compression != 0:
            raise FrameRejected("expected uncompressed grayscale pixels")
        dtype: np.dtype[Any]
        if entry.pixel_type == _EIGHT_BIT:
            dtype = np.dtype("<u1")
        elif entry.pixel_type in _SIXTEEN_BIT_TYPES:
            dtype = np.dtype("<u2")
        else:
            raise FrameRejected(f"unknown NDTiff pixel type {entry.pixel_type}")
        path = (self.directory / entry.filename).resolve()
        if path.parent != self.directory.resolve():
            raise FrameRejected(f"index names file {entry.filename!r} outside the dataset folder")
        count = entry.width * entry.height * dtype.itemsize
        try:
            with path.open("rb") as fh:
                fh.seek(entry.metadata_offset)
                raw_md = fh.read(entry.metadata_length)
                fh.seek(entry.pixel_offset)
                pixels = fh.read(count)
        except FileNotFoundError as exc:  # the index may name a file not created yet
            raise IncompleteFileError(f"{entry.filename} not created yet") from exc
        try:
            meta = json.loads(raw_md.decode("utf-8")) if entry.metadata_length else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IncompleteFileError("image metadata not completely written yet") from exc
        if len(pixels) != count:
            raise IncompleteFileError("pixel data not written yet")
        image = np.frombuffer(pixels, dtype=dtype).reshape(entry.height, entry.width)
        return image.astype(dtype.newbyteorder("=")), meta


def _index(axes: dict[str, Any], name: str) -> int | None:
    value = axes.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameRejected(f"axis {name!r} = {value!r}: expected an integer index")
    return value


def _raw_frame(
    entry: IndexEntry, image: np.ndarray, meta: dict[str, Any], where: str, clock: ElapsedClock
) -> FileFrame:
    axes = entry.axes
    channel = axes.get("channel")
    return FileFrame(
        image=image,
        where=where,
        t=int(axes["time"]) if "time" in axes else None,
        channel=str(channel) if channel is not None else None,
        pixel_size_nm=um_to_nm(meta.get("PixelSize_um")),
        timestamp=clock.timestamp(meta["ElapsedTime-ms"]) if "ElapsedTime-ms" in meta else None,
        metadata={"axes": axes, "elapsed_ms": meta.get("ElapsedTime-ms")},
        z=_index(axes, "z"),
        p=_index(axes, "position"),
        position_name=str(meta["PositionName"]) if meta.get("PositionName") else None,
        stage_um=stage_of(meta),
        pattern_applies=False,
    )
