"""OME-Zarr (NGFF 0.5, Zarr v3) output that is also the daemon's durable raw backlog.

Layout of ``OUT.zarr`` (see docs/outputs.md)::

    zarr.json                 root group; attribute ``tcan_live`` holds the acquisition layout
    sr/    zarr.json, 0/      NGFF image: super-resolved frames, float32 (t, c, y, x)
    raw/   zarr.json, 0/      NGFF image: raw frames as acquired (when ``include_raw``)
    tcan_live/  zarr.json     plain Zarr group (not an image)
    tcan_live/journal.jsonl   one JSON line per event: raw stored, SR stored, frame skipped
    tcan_live/backlog/        raw frames awaiting SR when ``include_raw`` is off
    tcan_live/rejected/       frames the arrays cannot hold, as TIFF + JSON (see .rejected)

Only this module spells that layout: other parts ask for :func:`open_sr`, :func:`open_raw`,
:func:`rejected_dir` and :meth:`OmeZarrSink.resume_state`.

Every frame is one chunk (1, 1, Y, X); the t axis grows as frames arrive. Zarr's local store
writes each chunk and metadata document to a temporary file and renames it into place, so a
chunk is either absent or whole. A frame counts as stored or completed only once its journal
line is written, and that line is appended after the chunk's rename, so a process killed at any
point leaves at most an unjournalled frame, which ``pending()`` hands back for processing.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.array import Array
from zarr.storage import LocalStore

from tcan_live.core.acquisition import (
    AcquisitionLayout,
    ChannelInfo,
    EnhanceResult,
    Frame,
    FrameKey,
)
from tcan_live.core.safe_paths import refuse_symlinks
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.journal import FrameJournal
from tcan_live.sinks.ngff import AXES, image_attributes
from tcan_live.sinks.store_lock import LOCK_NAME, StoreLock

ZarrArray = Array[Any]
SR_DTYPE = "float32"
LAYOUT_ATTRIBUTE = "tcan_live"
_FORMAT_VERSION = 1
JOURNAL_PATH = "tcan_live/journal.jsonl"
BACKLOG_GROUP = "tcan_live/backlog"
_REJECTED = "tcan_live/rejected"
SR_ARRAY_PATH = "sr/0"
RAW_ARRAY_PATH = "raw/0"
_WRITTEN_DIRS = ("sr", SR_ARRAY_PATH, "raw", RAW_ARRAY_PATH, "tcan_live", BACKLOG_GROUP)


def open_sr(path: str | Path) -> ZarrArray:
    """Open a store's super-resolved array (t, c, y, x) read-only."""
    return zarr.open_array(LocalStore(Path(path) / SR_ARRAY_PATH, read_only=True), mode="r")


def open_raw(path: str | Path) -> ZarrArray:
    """Open a store's raw array (t, c, y, x) read-only (stores written with ``include_raw``)."""
    return zarr.open_array(LocalStore(Path(path) / RAW_ARRAY_PATH, read_only=True), mode="r")


def rejected_dir(path: str | Path) -> Path:
    """Where frames a store cannot hold are kept (TIFF + JSON), inside the store."""
    return Path(path) / _REJECTED


@dataclass(frozen=True)
class ResumeState:
    """What an existing store already holds, so a restarted source does not deliver it again.

    Attributes
    ----------
    keys
        (t, channel) of every stored frame, completed or pending.
    origins
        Origins (file and position) of those frames.
    """

    keys: frozenset[FrameKey]
    origins: frozenset[str]


class LayoutMismatchError(ValueError):
    """An existing store was written for a different acquisition layout."""


class OutputFullError(OSError):
    """The output's disk is full (ENOSPC); frames written before are intact."""


def _layout_document(layout: AcquisitionLayout, include_raw: bool) -> dict[str, Any]:
    document = asdict(layout)
    document["channels"] = [asdict(channel) for channel in layout.channels]
    document["raw_shape"] = list(layout.raw_shape)
    document["sr_shape"] = list(layout.sr_shape)
    document["include_raw"] = include_raw
    return document


def _layout_differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Name the fields that make a store unusable for ``wanted`` (colours may differ)."""
    differences = []
    stored_names = [channel["name"] for channel in stored.get("channels", [])]
    wanted_names = [channel["name"] for channel in wanted["channels"]]
    if stored_names != wanted_names:
        differences.append(f"channels {stored_names} != {wanted_names}")
    else:
        for old, new in zip(stored.get("channels", []), wanted["channels"], strict=True):
            if old.get("engine") and new.get("engine") and old["engine"] != new["engine"]:
                differences.append(
                    f"channel {new['name']}: engine {old['engine']} != {new['engine']}"
                )
    for field in ("raw_shape", "sr_shape", "raw_dtype", "include_raw"):
        if stored.get(field) != wanted[field]:
            differences.append(f"{field} {stored.get(field)} != {wanted[field]}")
    for field in ("raw_pixel_size_nm", "sr_pixel_size_nm"):
        old = stored.get(field)
        if not isinstance(old, (int, float)) or not math.isclose(old, wanted[field], rel_tol=1e-6):
            differences.append(f"{field} {old} != {wanted[field]}")
    return differences


def is_unstarted_store(path: Path) -> bool:
    """Whether ``path`` is a folder a writer locked but never wrote a frame to (or empty)."""
    return path.is_dir() and {p.name for p in path.iterdir()} <= {LOCK_NAME}


def stored_layout(path: str | Path) -> AcquisitionLayout | None:
    """Return the layout an existing tcan-live store was written for, or None if none exists.

    Lets a restarted daemon set the store up (and resume its backlog) before any new frame
    arrives.
    """
    root_path = Path(path)
    if not (root_path / "zarr.json").exists():
        return None
    root = zarr.open_group(LocalStore(root_path, read_only=True), mode="r")
    document = root.attrs.get(LAYOUT_ATTRIBUTE, {})
    if not isinstance(document, dict) or "layout" not in document:
        raise LayoutMismatchError(
            f"{root_path} is a Zarr store not written by tcan-live "
            f"(no '{LAYOUT_ATTRIBUTE}' attribute): choose another output path"
        )
    stored = dict(document["layout"])
    stored.pop("include_raw", None)
    stored["channels"] = tuple(ChannelInfo(**channel) for channel in stored["channels"])
    stored["raw_shape"] = tuple(stored["raw_shape"])
    stored["sr_shape"] = tuple(stored["sr_shape"])
    return AcquisitionLayout(**stored)


class OmeZarrSink:
    """Writes raw and super-resolved frames to an OME-Zarr store; keeps the backlog durable.

    Implements :class:`tcan_live.sinks.base.FrameSink`, plus ``store_raw``, ``pending`` and
    ``load_raw`` for the pipeline's durable backlog and resumption after a crash.

    Parameters
    ----------
    config
        Output location and options.

    Examples
    --------
    >>> sink = OmeZarrSink(OutputConfig(path=Path("OUT.zarr")))  # doctest: +SKIP
    >>> sink.setup(layout)  # doctest: +SKIP
    >>> sink.store_raw(frame)  # as soon as it arrives  # doctest: +SKIP
    >>> sink.append(frame, result, {"input_mean": 10.0})  # doctest: +SKIP
    """

    def __init__(self, config: OutputConfig) -> None:
        self.config = config
        self.path = Path(config.path)
        self._lock = threading.Lock()
        self._layout: AcquisitionLayout | None = None
        self._journal: FrameJournal | None = None
        self._root: zarr.Group | None = None
        self._raw: ZarrArray | None = None
        self._sr: ZarrArray | None = None
        self._channel_index: dict[str, int] = {}
        self._raw_records: dict[FrameKey, dict[str, Any]] = {}
        self._done: dict[FrameKey, dict[str, Any]] = {}
        self._pending: dict[FrameKey, None] = {}  # insertion-ordered: acquisition order
        self.duplicates_ignored = 0
        self._writer_lock = StoreLock(self.path)

    # -- set-up -------------------------------------------------------------------------

    def lock(self) -> None:
        """Become the store's only writer for this process's life (see :mod:`.store_lock`).

        :meth:`setup` takes the lock too; a daemon takes it first, before it looks at the
        store, so two daemons started on one output cannot both proceed.

        Raises
        ------
        StoreInUseError
            Another process writes the store (the message names its PID and host).
        """
        self._writer_lock.acquire()

    def setup(self, layout: AcquisitionLayout) -> None:
        """Create the store for ``layout``, or reopen one written for the same layout.

        Raises
        ------
        LayoutMismatchError
            The store exists with other channels, shapes, pixel sizes or raw dtype.
        UnsafePathError
            A folder the writer uses inside the store is a symbolic link.
        """
        with self._lock:
            if self._root is not None:
                raise RuntimeError(f"{self.path}: setup() was already called")
            if not layout.channels:
                raise ValueError("layout: at least one channel is needed")
            refuse_symlinks(self.path, _WRITTEN_DIRS)
            self._writer_lock.acquire()
            try:
                self._open_for(layout)
            except BaseException:
                self._writer_lock.release(unused=self._root is None)
                raise

    def _open_for(self, layout: AcquisitionLayout) -> None:
        """Create or reopen the store for ``layout`` (the lock held); see :meth:`setup`."""
        wanted = _layout_document(layout, self.config.include_raw)
        store = LocalStore(self.path)
        if (self.path / "zarr.json").exists():
            root = zarr.open_group(store, mode="r+")
            stored = root.attrs.get(LAYOUT_ATTRIBUTE, {})
            if not isinstance(stored, dict) or "layout" not in stored:
                raise LayoutMismatchError(
                    f"{self.path} is a Zarr store not written by tcan-live "
                    f"(no '{LAYOUT_ATTRIBUTE}' attribute): choose another output path"
                )
            differences = _layout_differences(stored["layout"], wanted)
            if differences:
                raise LayoutMismatchError(
                    f"{self.path} holds another acquisition ({'; '.join(differences)}): "
                    "choose another output path"
                )
            self._raw = root[self._raw_path()]  # type: ignore[assignment]
            self._sr = root[SR_ARRAY_PATH]  # type: ignore[assignment]
        else:
            if not is_unstarted_store(self.path) and self.path.exists():
                raise LayoutMismatchError(
                    f"{self.path} exists and is not a tcan-live store (it holds other files): "
                    "choose a new output path, e.g. OUT.zarr"
                )
            root = self._create(store, layout, wanted)
        self._root = root
        self._layout = layout
        self._channel_index = {channel.name: i for i, channel in enumerate(layout.channels)}
        self._remove_partial_files()
        self._journal = FrameJournal(self.path / JOURNAL_PATH, fsync=self.config.fsync)
        self._replay_journal(self._journal)

    def _raw_path(self) -> str:
        return RAW_ARRAY_PATH if self.config.include_raw else f"{BACKLOG_GROUP}/0"

    def rejected_dir(self) -> Path:
        """Where frames this store cannot hold are kept (see :func:`rejected_dir`)."""
        return rejected_dir(self.path)

    def _create(
        self, store: LocalStore, layout: AcquisitionLayout, wanted: dict[str, Any]
    ) -> zarr.Group:
        # create_group, not open_group(mode="w-"): the folder already holds the writer's lock.
        root = zarr.create_group(
            store, attributes={LAYOUT_ATTRIBUTE: {"version": _FORMAT_VERSION, "layout": wanted}}
        )
        images = [("sr", layout.sr_shape, layout.sr_pixel_size_nm, SR_DTYPE)]
        if self.config.include_raw:
            images.append(("raw", layout.raw_shape, layout.raw_pixel_size_nm, layout.raw_dtype))
        for name, shape, pixel_size_nm, dtype in images:
            attributes = image_attributes(
                name, layout.channels, pixel_size_nm, layout.time_increment_s, layout.raw_dtype
            )
            group = root.create_group(name, attributes={"ome": attributes})
            array = self._create_array(group, shape, dtype, len(layout.channels))
            if name == "sr":
                self._sr = array
            else:
                self._raw = array
        # A Zarr group, so readers listing the root see a node rather than a stray folder.
        root.create_group(
            "tcan_live",
            attributes={"journal": "journal.jsonl", "format_version": _FORMAT_VERSION},
        )
        if not self.config.include_raw:
            backlog = root.create_group(BACKLOG_GROUP)
            self._raw = self._create_array(
                backlog, layout.raw_shape, layout.raw_dtype, len(layout.channels)
            )
        return root

    @staticmethod
    def _create_array(
        group: zarr.Group, shape: tuple[int, int], dtype: str, channels: int
    ) -> ZarrArray:
        return group.create_array(
            "0",
            shape=(0, channels, *shape),
            chunks=(1, 1, *shape),
            dtype=dtype,
            fill_value=0,
            dimension_names=AXES,
        )

    def _remove_partial_files(self) -> None:
        # Zarr's temporary files of a write interrupted by a kill: never part of the data.
        for folder in (SR_ARRAY_PATH, self._raw_path()):
            for leftover in (self.path / folder).rglob("*.partial"):
                leftover.unlink(missing_ok=True)

    def _replay_journal(self, journal: FrameJournal) -> None:
        for record in journal.records:
            key = (int(record["t"]), str(record["channel"]))
            if record.get("event") == "raw":
                self._raw_records.setdefault(key, record)
            elif record.get("event") in ("sr", "skip"):
                self._done.setdefault(key, record)
        self._pending = {key: None for key in self._raw_records if key not in self._done}

    # -- the backlog --------------------------------------------------------------------

    def store_raw(self, frame: Frame) -> bool:
        """Write ``frame``'s raw image durably (one chunk); return False if already stored.

        Raises
        ------
        ValueError
            Unknown channel, wrong shape or a dtype that does not fit the store's raw dtype.
        OutputFullError
            The disk is full; frames written before stay intact.
        """
        with self._lock:
            return self._store_raw(frame)

    def _store_raw(self, frame: Frame) -> bool:
        layout, journal, raw = self._ready()
        if frame.key in self._raw_records:
            return False
        channel = self._check_channel(frame)
        image = np.asarray(frame.image)
        if image.shape != layout.raw_shape:
            raise ValueError(
                f"frame t={frame.t} channel {frame.channel!r} ({frame.origin}): shape "
                f"{image.shape}, expected {layout.raw_shape} like the rest of the acquisition"
            )
        size = frame.pixel_size_nm
        if size is None or not math.isclose(size, layout.raw_pixel_size_nm, rel_tol=1e-6):
            raise ValueError(
                f"frame t={frame.t} channel {frame.channel!r} ({frame.origin}): pixel size "
                f"{size} nm, expected {layout.raw_pixel_size_nm:g} nm like the rest of the "
                "acquisition (one store holds one sampling)"
            )
        if not np.can_cast(image.dtype, layout.raw_dtype, "safe"):
            raise ValueError(
                f"frame t={frame.t} channel {frame.channel!r} ({frame.origin}): dtype "
                f"{image.dtype}, expected {layout.raw_dtype} (or a type that fits in it)"
            )
        record = {
            "event": "raw",
            "t": frame.t,
            "channel": frame.channel,
            "timestamp": frame.timestamp,
            "origin": frame.origin,
            "pixel_size_nm": frame.pixel_size_nm,
            "metadata": dict(frame.metadata),
            "stored_at": time.time(),
        }
        with self._disk_full_is_clear(frame, "raw frame"):
            self._write_chunk(raw, frame.t, channel, image)
            journal.append(record)
        self._raw_records[frame.key] = record
        self._pending[frame.key] = None
        return True

    def pending(self) -> list[FrameKey]:
        """Return the (t, channel) keys whose raw frame is stored but not yet completed.

        In the order the raw frames were stored (acquisition order).
        """
        with self._lock:
            return list(self._pending)

    def completed(self) -> set[FrameKey]:
        """Return the keys whose super-resolved frame is written, or that were skipped."""
        with self._lock:
            return set(self._done)

    def load_raw(self, key: FrameKey) -> Frame:
        """Read a stored raw frame back, with the metadata it arrived with."""
        with self._lock:
            _, _, raw = self._ready()
            record = self._raw_records.get(key)
            if record is None:
                raise KeyError(f"{self.path}: no raw frame stored for t={key[0]} {key[1]!r}")
            if not self.config.include_raw and key in self._done:
                raise KeyError(
                    f"{self.path}: the raw frame t={key[0]} {key[1]!r} is complete and was not "
                    "kept (output.include_raw = false)"
                )
            image = np.asarray(raw[key[0], self._channel_index[key[1]]])
            return Frame(
                image=image,
                t=key[0],
                channel=key[1],
                pixel_size_nm=record.get("pixel_size_nm"),
                timestamp=float(record.get("timestamp") or 0.0),
                origin=str(record.get("origin", "")),
                metadata=record.get("metadata") or {},
            )

    def resume_state(self) -> ResumeState:
        """Return what the store holds (after :meth:`setup`): keys and origins of its frames."""
        with self._lock:
            return ResumeState(
                keys=frozenset(self._raw_records),
                origins=frozenset(str(r.get("origin")) for r in self._raw_records.values()),
            )

    def frame_records(self) -> list[dict[str, Any]]:
        """Return the per-frame metadata table: one merged record per (t, channel)."""
        with self._lock:
            table = []
            for key, raw_record in self._raw_records.items():
                row = {k: v for k, v in raw_record.items() if k != "event"}
                done = self._done.get(key)
                row["status"] = done["event"] if done else "pending"
                if done:
                    row.update({k: v for k, v in done.items() if k not in ("event", "t")})
                table.append(row)
            return table

    # -- FrameSink ----------------------------------------------------------------------

    def append(self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any]) -> None:
        """Store ``frame``'s super-resolved result and QC; a completed frame is left as is.

        The raw frame is stored first if ``store_raw`` was not called for it.
        """
        with self._lock:
            layout, journal, _ = self._ready()
            engines = {channel.name: channel.engine for channel in layout.channels}
            engine = engines.get(frame.channel) or None
            record = self._completion_record(frame, "sr", qc=dict(qc), engine=engine)
            if record is None:
                return
            image = np.asarray(result.image)
            if image.shape != layout.sr_shape:
                raise ValueError(
                    f"super-resolved frame t={frame.t} channel {frame.channel!r}: shape "
                    f"{image.shape}, expected {layout.sr_shape}"
                )
            if not math.isclose(result.pixel_size_nm, layout.sr_pixel_size_nm, rel_tol=1e-6):
                raise ValueError(
                    f"super-resolved frame t={frame.t} channel {frame.channel!r}: pixel size "
                    f"{result.pixel_size_nm} nm, expected {layout.sr_pixel_size_nm} nm"
                )
            with self._disk_full_is_clear(frame, "super-resolved frame"):
                assert self._sr is not None
                channel = self._channel_index[frame.channel]
                self._write_chunk(self._sr, frame.t, channel, image.astype(SR_DTYPE, copy=False))
                record["completed_at"] = time.time()
                journal.append(record)
            self._done[frame.key] = record
            self._pending.pop(frame.key, None)
            self._drop_backlog_chunk(frame.t, channel)

    def skip(self, frame: Frame, reason: str) -> None:
        """Record that ``frame`` could not be enhanced, and why; its raw frame is kept."""
        with self._lock:
            _, journal, _ = self._ready()
            record = self._completion_record(frame, "skip", reason=reason)
            if record is None:
                return
            with self._disk_full_is_clear(frame, "skip record"):
                assert self._sr is not None
                self._grow(self._sr, frame.t)
                record["completed_at"] = time.time()
                journal.append(record)
            self._done[frame.key] = record
            self._pending.pop(frame.key, None)

    def close(self) -> None:
        """Close the journal and release the store; idempotent. It stays readable and resumable."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            self._writer_lock.release(unused=self._root is None)

    # -- internals ----------------------------------------------------------------------

    def _completion_record(self, frame: Frame, event: str, **fields: Any) -> dict[str, Any] | None:
        """Store the raw frame if needed; None when ``frame`` is already complete (no rewrite)."""
        if frame.key in self._done:
            self.duplicates_ignored += 1
            return None
        self._store_raw(frame)
        return {"event": event, "t": frame.t, "channel": frame.channel, **fields}

    def _ready(self) -> tuple[AcquisitionLayout, FrameJournal, ZarrArray]:
        if self._layout is None or self._journal is None or self._raw is None:
            raise RuntimeError(f"{self.path}: call setup() first (or the sink was closed)")
        return self._layout, self._journal, self._raw

    def _check_channel(self, frame: Frame) -> int:
        index = self._channel_index.get(frame.channel)
        if index is None:
            raise ValueError(
                f"frame t={frame.t} ({frame.origin}): unknown channel {frame.channel!r}, "
                f"expected one of {sorted(self._channel_index)}"
            )
        if frame.t < 0:
            raise ValueError(f"frame ({frame.origin}): time index {frame.t} is negative")
        return index

    def _grow(self, array: ZarrArray, t: int) -> None:
        if t >= array.shape[0]:
            array.resize((t + 1, *array.shape[1:]))

    def _write_chunk(self, array: ZarrArray, t: int, channel: int, image: np.ndarray) -> None:
        self._grow(array, t)
        array[t, channel] = image
        if self.config.fsync:
            chunk_key = array.metadata.encode_chunk_key((t, channel, 0, 0))
            chunk = self.path / array.path / chunk_key
            descriptor = os.open(chunk, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def _drop_backlog_chunk(self, t: int, channel: int) -> None:
        if self.config.include_raw or self._raw is None:
            return
        chunk_key = self._raw.metadata.encode_chunk_key((t, channel, 0, 0))
        (self.path / self._raw.path / chunk_key).unlink(missing_ok=True)

    @contextmanager
    def _disk_full_is_clear(self, frame: Frame, what: str) -> Iterator[None]:
        """Turn ENOSPC into a one-line :class:`OutputFullError` and resync the arrays."""
        try:
            yield
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            with suppress(OSError):
                self._reopen_arrays()
            raise OutputFullError(
                errno.ENOSPC,
                f"output disk full: could not write the {what} t={frame.t} channel "
                f"{frame.channel!r} to {self.path}; frames written before are intact "
                "(free space and restart to resume)",
            ) from error

    def _reopen_arrays(self) -> None:
        # After a failed write zarr's in-memory metadata may be ahead of the disk: reread it.
        root = zarr.open_group(LocalStore(self.path), mode="r+")
        self._root = root
        self._sr = root[SR_ARRAY_PATH]  # type: ignore[assignment]
        self._raw = root[self._raw_path()]  # type: ignore[assignment]


__all__ = [
    "stored_layout",
    "LayoutMismatchError",
    "OmeZarrSink",
    "OutputFullError",
]
