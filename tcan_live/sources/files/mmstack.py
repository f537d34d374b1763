"""Incremental reader for Micro-Manager MMStack (multipage OME-)TIFF files being acquired.

Micro-Manager keeps ``<prefix>_MMStack_<Pos>.ome.tif`` open for the whole acquisition: the file
is pre-allocated (its size says nothing), the index map after the summary metadata is filled in
one 20-byte entry (channel, slice, frame, position, IFD offset) per image, and each image is
written as IFD, pixels, resolution values and the image's JSON metadata (NUL-terminated), in
that order and after its index-map entry. An image is therefore complete once its JSON metadata
decodes; the reader stops at the first image that is not, and continues from there on the next
poll. Rolled-over files (``_1``, ``_2``) are MMStack files of their own.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from tcan_live.core.frame_check import FrameRejected
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.metadata import ElapsedClock, stage_of, um_to_nm

INDEX_MAP_OFFSET_HEADER = 54773648
INDEX_MAP_HEADER = 3453623
SUMMARY_HEADER = 2355492
_TAG_WIDTH, _TAG_HEIGHT, _TAG_BITS, _TAG_COMPRESSION = 256, 257, 258, 259
_TAG_STRIP_OFFSETS, _TAG_SAMPLES, _TAG_STRIP_BYTES, _TAG_MM_METADATA = 273, 277, 279, 51123


def is_mmstack_name(name: str) -> bool:
    """Whether a file name follows Micro-Manager's ``<prefix>_MMStack<...>.tif`` pattern."""
    lower = name.lower()
    return "_mmstack" in lower and lower.endswith((".tif", ".tiff"))


@dataclass(frozen=True)
class MMStackEntry:
    """One image in the index map: its place in the file and its acquisition indices."""

    number: int
    """Position in the index map (the ``#k`` of the frame's origin)."""
    channel_index: int
    z: int
    t: int
    position: int
    ifd_offset: int


class MMStackReader:
    """Follows one MMStack file and returns each image once it is completely written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._next_entry = 0
        self._summary: dict[str, Any] | None = None
        self._clock = ElapsedClock()

    @property
    def frames_read(self) -> int:
        """How many images have been returned so far."""
        return self._next_entry

    def poll(self) -> list[FileFrame | FrameRejected]:
        """Return the images completed since the last poll, in file order.

        An image that cannot be used comes back as a :class:`FrameRejected` in its place; the reader
        moves past it.

        Raises
        ------
        IncompleteFileError
            The header or summary is not written yet.
        FrameRejected
            The file is not an MMStack file.
        """
        results: list[FileFrame | FrameRejected] = []
        with self.path.open("rb") as fh:
            order = _byte_order(fh)
            for entry in self._entries(fh, order, start=self._next_entry):
                try:
                    result: FileFrame | FrameRejected = self._frame(fh, order, entry)
                except IncompleteFileError:
                    break
                except FrameRejected as exc:
                    result = exc
                self._next_entry += 1
                results.append(result)
        return results

    def index(self) -> list[MMStackEntry]:
        """Every image the index map lists now, in file order (written or still to come).

        Lets a caller read the images out of order, e.g. each in another process (``tcan-live
        batch``); reads only the header, the summary and the index map.
        """
        with self.path.open("rb") as fh:
            return self._entries(fh, _byte_order(fh), start=0)

    def channel_name(self, channel_index: int) -> str:
        """Return the channel of images at ``channel_index``, unless their own metadata names one.

        From the summary's channel names (read by :meth:`index`), else the index itself.
        """
        names = (self._summary or {}).get("ChNames") or []
        named = names[channel_index] if 0 <= channel_index < len(names) else None
        return str(named) if named else str(channel_index)

    def read(self, entry: MMStackEntry) -> FileFrame:
        """Read the image of one :meth:`index` entry.

        Raises
        ------
        IncompleteFileError
            The image is not completely written yet.
        FrameRejected
            The image cannot be used (the message says why).
        """
        with self.path.open("rb") as fh:
            order = _byte_order(fh)
            self._read_header(fh, order)
            return self._frame(fh, order, entry)

    def _entries(self, fh: IO[bytes], order: str, start: int) -> list[MMStackEntry]:
        index_offset = self._read_header(fh, order)
        return [
            MMStackEntry(start + k, *fields)
            for k, fields in enumerate(_index_entries(fh, order, index_offset, start=start))
        ]

    def _frame(self, fh: IO[bytes], order: str, entry: MMStackEntry) -> FileFrame:
        where = f"#{entry.number}"
        try:
            image, meta = _read_image(fh, order, entry.ifd_offset)
        except FrameRejected as exc:
            raise FrameRejected(
                f"image {where} (t={entry.t}, channel {entry.channel_index}): {exc}"
            ) from exc
        return self._raw_frame(image, meta, where, entry)

    def _read_header(self, fh: IO[bytes], order: str) -> int:
        fh.seek(8)
        head = fh.read(32)
        if len(head) < 32:
            raise IncompleteFileError("MMStack header not written yet")
        index_header, index_offset = struct.unpack(order + "II", head[:8])
        summary_header, summary_length = struct.unpack(order + "II", head[24:32])
        if index_header == 0 or summary_header == 0:
            raise IncompleteFileError("MMStack header not written yet")
        if index_header != INDEX_MAP_OFFSET_HEADER or summary_header != SUMMARY_HEADER:
            raise FrameRejected(
                "expected a Micro-Manager MMStack file (index map and summary headers)"
            )
        if self._summary is None:
            raw = fh.read(summary_length)
            try:
                self._summary = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise IncompleteFileError("MMStack summary metadata not written yet") from exc
        return int(index_offset)

    def _raw_frame(
        self, image: np.ndarray, meta: dict[str, Any], where: str, entry: MMStackEntry
    ) -> FileFrame:
        summary = self._summary or {}
        channel = meta.get("Channel") or self.channel_name(entry.channel_index)
        pixel_size = um_to_nm(meta.get("PixelSizeUm", meta.get("PixelSize_um")))
        if pixel_size is None:
            pixel_size = um_to_nm(summary.get("PixelSize_um"))
        return FileFrame(
            image=image,
            where=where,
            t=entry.t,
            channel=str(channel),
            pixel_size_nm=pixel_size,
            timestamp=self._clock.timestamp(meta["ElapsedTime-ms"])
            if "ElapsedTime-ms" in meta
            else None,
            metadata={
                "elapsed_ms": meta.get("ElapsedTime-ms"),
                "channel_index": entry.channel_index,
            },
            z=entry.z,
            p=entry.position,
            position_name=str(meta["PositionName"]) if meta.get("PositionName") else None,
            stage_um=stage_of(meta),
            z_step_nm=um_to_nm(summary.get("z-step_um")),
            pattern_applies=False,
        )


def _byte_order(fh: IO[bytes]) -> str:
    fh.seek(0)
    mark = fh.read(4)
    if len(mark) < 4 or mark == bytes(4):  # created and pre-allocated, header still to come
        raise IncompleteFileError("TIFF header not written yet")
    order = {b"II": "<", b"MM": ">"}.get(mark[:2])
    if order is None or struct.unpack(order + "H", mark[2:])[0] != 42:
        raise FrameRejected("expected a TIFF file (II*/MM* header)")
    return order


def _index_entries(
    fh: IO[bytes], order: str, index_offset: int, start: int
) -> list[tuple[int, int, int, int, int]]:
    fh.seek(index_offset)
    head = fh.read(8)
    if len(head) < 8:
        raise IncompleteFileError("MMStack index map not written yet")
    header, capacity = struct.unpack(order + "II", head)
    if header == 0:
        raise IncompleteFileError("MMStack index map not written yet")
    if header != INDEX_MAP_HEADER:
        raise FrameRejected("expected the MMStack index map header")
    fh.seek(index_offset + 8 + 20 * start)
    data = fh.read(20 * max(capacity - start, 0))
    entries = []
    for k in range(len(data) // 20):
        entry = struct.unpack_from(order + "5I", data, 20 * k)
        if entry[4] == 0:  # pre-allocated zeros: no image written there yet
            break
        entries.append(entry)
    return entries


def _read_image(fh: IO[bytes], order: str, ifd_offset: int) -> tuple[np.ndarray, dict[str, Any]]:
    tags = _read_ifd(fh, order, ifd_offset)
    md_count, md_offset = tags.get(_TAG_MM_METADATA, (0, 0))
    if md_count == 0:
        raise IncompleteFileError("image metadata not written yet")
    fh.seek(md_offset)
    raw_md = fh.read(md_count)
    try:
        meta = json.loads(raw_md.rstrip(b"\0").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        # The metadata is written last: until it decodes, the pixels may be partial too.
        raise IncompleteFileError("image metadata not completely written yet") from exc
    width, height = tags[_TAG_WIDTH][1], tags[_TAG_HEIGHT][1]
    bits = tags.get(_TAG_BITS, (1, 8))[1]
    samples = tags.get(_TAG_SAMPLES, (1, 1))[1]
    if samples != 1 or tags.get(_TAG_COMPRESSION, (1, 1))[1] != 1:
        raise FrameRejected(
            f"expected uncompressed grayscale pixels, got {samples} samples per pixel"
        )
    if bits not in (8, 16):
        raise FrameRejected(f"expected 8 or 16 bits per pixel, got {bits}")
    dtype = np.dtype(order + ("u1" if bits == 8 else "u2"))
    count = width * height * dtype.itemsize
    fh.seek(tags[_TAG_STRIP_OFFSETS][1])
    data = fh.read(count)
    if len(data) != count:
        raise IncompleteFileError("pixel data not written yet")
    image = np.frombuffer(data, dtype=dtype).reshape(height, width).astype(dtype.newbyteorder("="))
    return image, meta


def _read_ifd(fh: IO[bytes], order: str, offset: int) -> dict[int, tuple[int, int]]:
    """Tag -> (count, value or offset) for the IFD at ``offset``."""
    fh.seek(offset)
    head = fh.read(2)
    if len(head) < 2:
        raise IncompleteFileError("IFD not written yet")
    (n,) = struct.unpack(order + "H", head)
    if n == 0:
        raise IncompleteFileError("IFD not written yet")
    body = fh.read(12 * n)
    if len(body) < 12 * n:
        raise IncompleteFileError("IFD not written yet")
    tags: dict[int, tuple[int, int]] = {}
    for k in range(n):
        tag, kind, count = struct.unpack_from(order + "HHI", body, 12 * k)
        if kind == 3 and count == 1:  # a single SHORT sits left-justified in the value field
            (value,) = struct.unpack_from(order + "H", body, 12 * k + 8)
        else:
            (value,) = struct.unpack_from(order + "I", body, 12 * k + 8)
        tags[tag] = (count, value)
    return tags
