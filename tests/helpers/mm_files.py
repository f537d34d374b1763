"""Test writers for Micro-Manager's on-disk formats, producing files the way the writers do.

* :class:`MMStackWriter` writes ``<prefix>_MMStack_Pos0.ome.tif`` in the layout of
  Micro-Manager's MultipageTiffWriter: pre-allocated file, header + summary JSON + pre-sized
  index map, then per image its index-map entry followed by IFD (13 entries), pixels,
  resolution values and NUL-terminated JSON metadata. tifffile reads the finished file as an
  MMStack (``is_mmstack``), which the tests check, so the layout is verified independently.
* :func:`copy_ndtiff_live` re-writes a finished NDTiff dataset (written by ndstorage,
  pycromanager's writer) into a watched folder frame by frame, in the order pycromanager's
  Java writer uses: the TIFF file pre-allocated, each image's bytes, then its index entry.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

IFD_ENTRIES = 13
IFD_BYTES = 2 + IFD_ENTRIES * 12 + 4  # 162, the size tifffile assumes for MMStack frames


class MMStackWriter:
    """Writes an MMStack OME-TIFF image by image; ``parts`` exposes each image's byte writes."""

    def __init__(
        self,
        path: Path,
        shape: tuple[int, int],
        channel_names: Sequence[str],
        frames: int,
        pixel_size_um: float,
        *,
        slices: int = 1,
        positions: int = 1,
        z_step_um: float = 1.0,
    ) -> None:
        self.path = path
        self.height, self.width = shape
        self.pixel_size_um = pixel_size_um
        summary = {
            "MicroManagerVersion": "2.0.3 test-writer",
            "Prefix": path.name.split("_MMStack")[0],
            "Frames": frames,
            "Channels": len(channel_names),
            "Slices": slices,
            "Positions": positions,
            "z-step_um": z_step_um,
            "ChNames": list(channel_names),
            "PixelSize_um": pixel_size_um,
            "Width": self.width,
            "Height": self.height,
            "PixelType": "GRAY16",
            "TimeFirst": True,
        }
        summary_bytes = json.dumps(summary).encode()
        self.capacity = frames * len(channel_names) * slices + 4
        self.index_offset = 40 + len(summary_bytes)
        self.first_ifd = self.index_offset + 8 + 20 * self.capacity
        header = bytearray(40)
        struct.pack_into("<2sHI", header, 0, b"II", 42, self.first_ifd)
        struct.pack_into("<II", header, 8, 54773648, self.index_offset)
        struct.pack_into("<II", header, 32, 2355492, len(summary_bytes))
        index_map = struct.pack("<II", 3453623, self.capacity) + bytes(20 * self.capacity)
        with path.open("wb") as fh:
            fh.write(bytes(header) + summary_bytes + index_map)
            # Pre-allocated like Micro-Manager's writer: the size says nothing about progress.
            fh.truncate(self.first_ifd + self.capacity * (self.height * self.width * 2 + 4096))
        self.position = self.first_ifd
        self.images = 0
        self._last_next_ifd_at: int | None = None

    def parts(
        self, image: np.ndarray, t: int, c: int, meta: dict[str, Any], z: int = 0, p: int = 0
    ) -> list[tuple[int, bytes]]:
        """The (offset, bytes) writes for one image, in Micro-Manager's order.

        Micro-Manager writes one file per position, each index entry naming its position.
        """
        offset = self.position
        md = json.dumps(meta).encode() + b"\0"
        pixels = np.ascontiguousarray(image, dtype="<u2").tobytes()
        strip_at = offset + IFD_BYTES
        res_at = strip_at + len(pixels)
        md_at = res_at + 16
        next_ifd = md_at + len(md)
        entries = [
            (256, 4, 1, self.width),
            (257, 4, 1, self.height),
            (258, 3, 1, 16),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (273, 4, 1, strip_at),
            (277, 3, 1, 1),
            (278, 3, 1, self.height),
            (279, 4, 1, len(pixels)),
            (282, 5, 1, res_at),
            (283, 5, 1, res_at + 8),
            (296, 3, 1, 3),
            (51123, 2, len(md), md_at),
        ]
        ifd = bytearray(struct.pack("<H", IFD_ENTRIES))
        for tag, kind, count, value in entries:
            if kind == 3:
                ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
            else:
                ifd += struct.pack("<HHII", tag, kind, count, value)
        ifd += struct.pack("<I", next_ifd)
        per_cm = round(1e4 / self.pixel_size_um)
        resolution = struct.pack("<IIII", per_cm, 1, per_cm, 1)
        index_entry = struct.pack("<5I", c, z, t, p, offset)
        self._last_next_ifd_at = offset + IFD_BYTES - 4
        self.position = next_ifd + (next_ifd % 2)
        entry_at = self.index_offset + 8 + 20 * self.images
        self.images += 1
        return [
            (entry_at, index_entry),
            (offset, bytes(ifd)),
            (strip_at, pixels),
            (res_at, resolution),
            (md_at, md),
        ]

    def write(self, parts: list[tuple[int, bytes]]) -> None:
        """Write some of an image's parts (each flushed, as the writer thread does)."""
        with self.path.open("r+b") as fh:
            for offset, data in parts:
                fh.seek(offset)
                fh.write(data)
                fh.flush()

    def finish(self) -> None:
        """Terminate the IFD chain, record the image count and trim the file, as on close."""
        with self.path.open("r+b") as fh:
            if self._last_next_ifd_at is not None:
                fh.seek(self._last_next_ifd_at)
                fh.write(struct.pack("<I", 0))
            fh.seek(self.index_offset + 4)
            fh.write(struct.pack("<I", self.images))
            display = json.dumps([]).encode()
            fh.seek(16)
            fh.write(struct.pack("<II", 483765892, self.position))
            fh.seek(self.position)
            fh.write(struct.pack("<II", 347834724, len(display)) + display)
            fh.truncate(self.position + 8 + len(display))


def write_ndtiff_dataset(
    folder: Path, name: str, stack: np.ndarray, channel_names: Sequence[str], pixel_size_um: float
) -> Path:
    """Write a (T, C, Y, X) or (P, T, C, Z, Y, X) stack as a finished NDTiff dataset.

    Written with ndstorage (pycromanager's writer); a 6D stack gets ``position`` and ``z`` axes,
    each position a name and a stage position, in acquisition order (p, t, c, z).
    """
    from ndstorage import NDTiffDataset

    dataset = NDTiffDataset(str(folder), name=name, writable=True, summary_metadata={})
    multi = stack.ndim == 6
    planes = stack if multi else stack[None, :, :, None]
    for p, t, c, z in np.ndindex(planes.shape[:4]):
        channel = channel_names[c]
        meta: dict[str, Any] = {
            "PixelSize_um": pixel_size_um,
            "ElapsedTime-ms": 100.0 * t,
            "Channel": channel,
        }
        axes: dict[str, Any] = {"time": t, "channel": channel}
        if multi:
            axes |= {"position": p, "z": z}
            meta |= {"PositionName": f"Pos{p}", "XPositionUm": 200.0 * p, "YPositionUm": 0.0}
        dataset.put_image(axes, planes[p, t, c, z], meta)
    dataset.finish()
    path = Path(dataset.path)
    dataset.close()
    return path


def copy_ndtiff_live(
    source: Path,
    target: Path,
    after_frame: Callable[[int, Callable[[], None]], None],
) -> None:
    """Copy a finished NDTiff dataset into ``target`` image by image, as it is acquired.

    For image k: its TIFF bytes are written (into a pre-allocated file), then the first half of
    its index entry, then ``after_frame(k, complete)`` is called; ``complete()`` appends the rest
    of the entry. The caller checks that image k is not taken before ``complete()``.
    """
    from tcan_live.sources.files.ndtiff_dataset import INDEX_NAME, parse_index

    index_bytes = (source / INDEX_NAME).read_bytes()
    entries, _ = parse_index(index_bytes)
    target.mkdir(parents=True)
    tiffs = sorted({entry.filename for entry in entries})
    for filename in tiffs:
        size = (source / filename).stat().st_size
        with (target / filename).open("wb") as fh:
            fh.truncate(size + (1 << 20))  # pre-allocated, as the writers do
    written_to = dict.fromkeys(tiffs, 0)
    pos = 0
    with (target / INDEX_NAME).open("wb") as index:
        for k, entry in enumerate(entries):
            end = max(
                entry.pixel_offset + entry.width * entry.height * 2,
                entry.metadata_offset + entry.metadata_length,
            )
            start = written_to[entry.filename]
            with (source / entry.filename).open("rb") as src:
                src.seek(start)
                data = src.read(end - start)
            with (target / entry.filename).open("r+b") as out:
                out.seek(start)
                out.write(data)
            written_to[entry.filename] = end
            entry_bytes = _entry_bytes(index_bytes, pos)
            pos += len(entry_bytes)
            half = len(entry_bytes) // 2
            index.write(entry_bytes[:half])
            index.flush()

            def complete(rest: bytes = entry_bytes[half:]) -> None:
                index.write(rest)
                index.flush()

            after_frame(k, complete)


def _entry_bytes(data: bytes, pos: int) -> bytes:
    (axes_length,) = struct.unpack_from("<I", data, pos)
    name_at = pos + 4 + axes_length
    (name_length,) = struct.unpack_from("<I", data, name_at)
    return data[pos : name_at + 4 + name_length + 32]


# ndstorage (pycromanager's NDTiff writer) drops its internal reader of the TIFF without
# closing it when a dataset is finished; the garbage collector closes the file. A pytest
# ``filterwarnings`` entry for the tests that write NDTiff with it:
NDSTORAGE_UNCLOSED_READER = (
    "ignore:Exception ignored in.*NDTiffStack.tif:pytest.PytestUnraisableExceptionWarning"
)
