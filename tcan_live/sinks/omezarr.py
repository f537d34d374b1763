"""OME-Zarr (NGFF 0.5, Zarr v3) output that is also the daemon's durable raw backlog.

One image (t, c, z, y, x) per stage position, grid tile and run, raw and super-resolved, in
the layout of :mod:`.store_layout`. Every frame is one chunk (1, 1, 1, Y, X); the t and z axes
grow as frames arrive, and a new position's image is created with its first frame. Zarr's local
store writes each chunk and metadata document to a temporary file and renames it into place, so
a chunk is either absent or whole. A frame counts as stored or completed only once its journal
line is written, and that line is appended after the chunk's rename, so a process killed at any
point leaves at most an unjournalled frame, which ``pending()`` hands back for processing.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.storage import LocalStore

from tcan_live.core.acquisition import (
    AcquisitionLayout,
    EnhanceResult,
    Frame,
    FrameKey,
    ImageKey,
    Position,
)
from tcan_live.core.safe_paths import refuse_symlinks
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.journal import FrameJournal
from tcan_live.sinks.ngff import (
    AXES,
    OME_XML_PATH,
    container_attributes,
    image_attributes,
    image_name,
    ome_xml,
    z_step_of,
)
from tcan_live.sinks.store_layout import (
    BACKLOG_GROUP,
    FORMAT_VERSION,
    JOURNAL_PATH,
    LAYOUT_ATTRIBUTE,
    QC_GROUP,
    RAW_GROUP,
    SR_GROUP,
    WRITTEN_DIRS,
    LayoutMismatchError,
    StoredImage,
    ZarrArray,
    array_path,
    image_path,
    is_unstarted_store,
    layout_document,
    position_document,
    position_from,
    record_key,
    rejected_dir,
    stored_document,
    stored_images,
    stored_layout,
)
from tcan_live.sinks.store_lock import StoreLock

SR_DTYPE = "float32"
QC_DTYPE = "float32"
QC_WINDOW = (-10.0, 10.0)


def _write_frame_chunk(
    store: Path, array: ZarrArray, key: FrameKey, channel: int, image: np.ndarray, fsync: bool
) -> None:
    """Write one frame as its own whole chunk; with ``fsync`` force it to disk."""
    array[key.t, channel, key.z] = image
    if fsync:
        chunk_key = array.metadata.encode_chunk_key((key.t, channel, key.z, 0, 0))
        descriptor = os.open(store / array.path / chunk_key, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _disk_full(what: str, key: FrameKey, store: Path) -> OutputFullError:
    return OutputFullError(
        errno.ENOSPC,
        f"output disk full: could not write the {what} {key.describe()} to {store}; frames "
        "written before are intact (free space and restart to resume)",
    )


def write_sr_chunk(
    path: str | Path, key: FrameKey, image: np.ndarray, *, fsync: bool = True
) -> None:
    """Write one super-resolved frame into a store from any process (``tcan-live batch``).

    The frame's image and its t and z extent must be made up front
    (:meth:`OmeZarrSink.reserve`), so no metadata is rewritten here and processes writing
    different frames never touch the same file. The chunk is written whole (a temporary file
    renamed into place); a frame written twice (a task run again after its worker died) is
    replaced whole, never mixed. The frame counts as complete only once the one process
    keeping the journal records it (:meth:`OmeZarrSink.record_outcome`).

    Raises
    ------
    ValueError
        Unknown channel, no image reserved for the frame's position, an index outside the
        reserved extent, or a shape other than the store's.
    OutputFullError
        The disk is full; frames written before are intact.
    """
    store = Path(path)
    layout = stored_layout(store)
    if layout is None:
        raise ValueError(f"{store}: no tcan-live store here to write frames into")
    names = [info.name for info in layout.channels]
    if key.channel not in names:
        raise ValueError(f"{store}: unknown channel {key.channel!r}, expected one of {names}")
    series = {image.key: image.series for image in stored_images(store)}.get(key.image)
    if series is None:
        raise ValueError(f"{store}: no image reserved for frame {key.describe()}")
    array = zarr.open_array(LocalStore(store), path=array_path(SR_GROUP, series), mode="r+")
    if not (0 <= key.t < array.shape[0] and 0 <= key.z < array.shape[2]):
        raise ValueError(
            f"{store}: frame {key.describe()} is outside the reserved t 0..{array.shape[0] - 1}, "
            f"z 0..{array.shape[2] - 1}"
        )
    if image.shape != layout.sr_shape:
        raise ValueError(
            f"super-resolved frame {key.describe()}: shape {image.shape}, expected "
            f"{layout.sr_shape} like the rest of the store"
        )
    channel = names.index(key.channel)
    try:
        _write_frame_chunk(store, array, key, channel, image.astype(SR_DTYPE, copy=False), fsync)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise _disk_full("super-resolved frame", key, store) from error


@dataclass(frozen=True)
class ResumeState:
    """What an existing store already holds, so a restarted source does not deliver it again.

    Attributes
    ----------
    keys
        The keys of every stored frame, completed or pending.
    origins
        Origins (file and position) of those frames.
    runs
        Runs (acquisitions) the store holds: a new one gets the next number.
    """

    keys: frozenset[FrameKey]
    origins: frozenset[str]
    runs: frozenset[int]


class OutputFullError(OSError):
    """The output's disk is full (ENOSPC); frames written before are intact."""


@dataclass
class _Image:
    series: int
    position: Position
    sr: ZarrArray
    raw: ZarrArray
    qc: ZarrArray | None = None  # made with the image's first checked result
    z_step_nm: float | None = None


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
                engines = f"{old['engine']} != {new['engine']}"
                differences.append(f"channel {new['name']}: engine {engines}")
    for field in ("raw_shape", "sr_shape", "raw_dtype", "include_raw"):
        if stored.get(field) != wanted[field]:
            differences.append(f"{field} {stored.get(field)} != {wanted[field]}")
    for field in ("raw_pixel_size_nm", "sr_pixel_size_nm"):
        old = stored.get(field)
        if not isinstance(old, (int, float)) or not math.isclose(old, wanted[field], rel_tol=1e-6):
            differences.append(f"{field} {old} != {wanted[field]}")
    return differences


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
        self._images: dict[ImageKey, _Image] = {}
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
            The store exists with other channels, shapes, pixel sizes, raw dtype or format.
        UnsafePathError
            A folder the writer uses inside the store is a symbolic link.
        """
        with self._lock:
            if self._root is not None:
                raise RuntimeError(f"{self.path}: setup() was already called")
            if not layout.channels:
                raise ValueError("layout: at least one channel is needed")
            refuse_symlinks(self.path, WRITTEN_DIRS)
            self._writer_lock.acquire()
            try:
                self._open_for(layout)
            except BaseException:
                self._writer_lock.release(unused=self._root is None)
                raise

    def _open_for(self, layout: AcquisitionLayout) -> None:
        """Create or reopen the store for ``layout`` (the lock held); see :meth:`setup`."""
        wanted = layout_document(layout, self.config.include_raw)
        store = LocalStore(self.path)
        stored = stored_document(self.path)  # refuses foreign stores and other formats
        if stored is not None:
            root = zarr.open_group(store, mode="r+")
            differences = _layout_differences(stored["layout"], wanted)
            if differences:
                raise LayoutMismatchError(
                    f"{self.path} holds another acquisition ({'; '.join(differences)}): "
                    "choose another output path"
                )
            self._root = root
            self._reopen_images()
        else:
            if not is_unstarted_store(self.path) and self.path.exists():
                raise LayoutMismatchError(
                    f"{self.path} exists and is not a tcan-live store (it holds other files): "
                    "choose a new output path, e.g. OUT.zarr"
                )
            self._root = self._create(store, wanted)
        self._layout = layout
        self._channel_index = {channel.name: i for i, channel in enumerate(layout.channels)}
        self._remove_partial_files()
        self._journal = FrameJournal(self.path / JOURNAL_PATH, fsync=self.config.fsync)
        self._replay_journal(self._journal)

    def _raw_group(self) -> str:
        return RAW_GROUP if self.config.include_raw else BACKLOG_GROUP

    def rejected_dir(self) -> Path:
        """Where frames this store cannot hold are kept (see :func:`rejected_dir`)."""
        return rejected_dir(self.path)

    def _create(self, store: LocalStore, wanted: dict[str, Any]) -> zarr.Group:
        # create_group, not open_group(mode="w-"): the folder already holds the writer's lock.
        document = {"version": FORMAT_VERSION, "layout": wanted, "images": []}
        root = zarr.create_group(store, attributes={LAYOUT_ATTRIBUTE: document})
        for kind in self._containers():
            root.create_group(kind, attributes={"ome": container_attributes()})
        # A Zarr group, so readers listing the root see a node rather than a stray folder.
        root.create_group(
            "tcan_live", attributes={"journal": "journal.jsonl", "format_version": FORMAT_VERSION}
        )
        if not self.config.include_raw:
            root.create_group(BACKLOG_GROUP)
        return root

    def _containers(self) -> list[str]:
        """Return the bioformats2raw containers made with the store: sr, and raw if kept.

        ``qc`` is made with the first checked result, so a store whose frames were never
        checked has no maps rather than maps of zeros.
        """
        return [SR_GROUP, RAW_GROUP] if self.config.include_raw else [SR_GROUP]

    def _reopen_images(self) -> None:
        """Find every image already in the store (its group's own record is authoritative)."""
        assert self._root is not None
        self._images = {}
        series = 0
        while (self.path / image_path(SR_GROUP, series) / "zarr.json").exists():
            group = self._root[image_path(SR_GROUP, series)]
            recorded = dict(group.attrs).get(LAYOUT_ATTRIBUTE)
            position = position_from(recorded if isinstance(recorded, dict) else {})
            try:
                sr = self._root[array_path(SR_GROUP, series)]
                raw = self._root[array_path(self._raw_group(), series)]
            except KeyError:
                break  # made only in part when the writer was killed: made again when needed
            try:
                qc = self._root[array_path(QC_GROUP, series)]
            except KeyError:
                qc = None  # no checked result yet, or half made: made again when needed
            z_step_nm = z_step_of(dict(group.attrs).get("ome"))
            self._images[position.key] = _Image(
                series,
                position,
                sr,  # type: ignore[arg-type]
                raw,  # type: ignore[arg-type]
                qc,  # type: ignore[arg-type]
                z_step_nm,
            )
            series += 1
        self._record_images()  # a kill after an image was made, before it was listed

    def _image_for(self, frame: Frame) -> _Image:
        image = self._images.get(frame.key.image)
        if image is None:
            image = self._new_image(frame.position, frame.z_step_nm)
        return image

    def _new_image(self, position: Position, z_step_nm: float | None) -> _Image:
        """Make the arrays of a position's image; its z step is its first frame's, if known."""
        assert self._root is not None and self._layout is not None
        layout, series = self._layout, len(self._images)
        if z_step_nm is None:
            z_step_nm = layout.z_step_nm
        sr = self._make_array(
            SR_GROUP, series, position, z_step_nm, layout.sr_pixel_size_nm, SR_DTYPE
        )
        raw = self._make_array(
            self._raw_group(),
            series,
            position,
            z_step_nm,
            layout.raw_pixel_size_nm,
            layout.raw_dtype,
        )
        image = _Image(series, position, sr, raw, None, z_step_nm)
        self._images[position.key] = image
        self._record_images()
        return image

    def _qc_array(self, image: _Image) -> ZarrArray:
        """Return the image's consistency maps, making them (and their container) if needed."""
        assert self._root is not None and self._layout is not None
        if image.qc is None:
            if not (self.path / QC_GROUP / "zarr.json").exists():
                self._root.create_group(
                    QC_GROUP, attributes={"ome": container_attributes()}, overwrite=True
                )
            image.qc = self._make_array(
                QC_GROUP,
                image.series,
                image.position,
                image.z_step_nm,
                self._layout.raw_pixel_size_nm,
                QC_DTYPE,
            )
            self._record_images()
        return image.qc

    def _make_array(
        self,
        kind: str,
        series: int,
        position: Position,
        z_step_nm: float | None,
        pixel_size_nm: float,
        dtype: str,
    ) -> ZarrArray:
        """Make one kind's image group and its empty (0, c, 0, y, x) array for ``series``."""
        assert self._root is not None and self._layout is not None
        layout = self._layout
        shape = layout.sr_shape if kind == SR_GROUP else layout.raw_shape
        attributes: dict[str, Any] = {LAYOUT_ATTRIBUTE: position_document(position)}
        if kind != BACKLOG_GROUP:
            attributes["ome"] = image_attributes(
                kind,
                position,
                layout.channels,
                pixel_size_nm,
                z_step_nm,
                layout.time_increment_s,
                layout.raw_dtype,
                window=QC_WINDOW if kind == QC_GROUP else None,
            )
        # overwrite: a group of this number can only be what a killed writer left half made.
        group = self._root.create_group(
            image_path(kind, series), attributes=attributes, overwrite=True
        )
        return group.create_array(
            "0",
            shape=(0, len(layout.channels), 0, *shape),
            chunks=(1, 1, 1, *shape),
            dtype=dtype,
            fill_value=0,
            dimension_names=AXES,
        )

    def _record_images(self) -> None:
        """List the images in the root attributes and each container's OME-XML (for readers)."""
        assert self._root is not None
        ordered = sorted(self._images.values(), key=lambda image: image.series)
        document = dict(self._root.attrs[LAYOUT_ATTRIBUTE])  # type: ignore[arg-type]
        document["images"] = [
            {"series": image.series, "position": position_document(image.position)}
            for image in ordered
        ]
        self._root.attrs[LAYOUT_ATTRIBUTE] = document
        kinds = [kind for kind in (SR_GROUP, RAW_GROUP, QC_GROUP) if (self.path / kind).is_dir()]
        for kind in kinds:
            target = self.path / kind / OME_XML_PATH
            target.parent.mkdir(parents=True, exist_ok=True)
            names = [image_name(kind, image.position) for image in ordered]
            partial = target.with_suffix(".partial")
            partial.write_text(ome_xml(names), encoding="utf-8")
            partial.replace(target)

    def _remove_partial_files(self) -> None:
        # Zarr's temporary files of a write interrupted by a kill: never part of the data.
        for folder in (SR_GROUP, self._raw_group(), QC_GROUP):
            for leftover in (self.path / folder).rglob("*.partial"):
                leftover.unlink(missing_ok=True)

    def _replay_journal(self, journal: FrameJournal) -> None:
        for record in journal.records:
            key = record_key(record)
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
            Unknown channel, wrong shape, pixel size or a dtype that does not fit the store.
        OutputFullError
            The disk is full; frames written before stay intact.
        """
        with self._lock:
            return self._store_raw(frame)

    def _store_raw(self, frame: Frame) -> bool:
        layout, journal = self._ready()
        if frame.key in self._raw_records:
            return False
        channel = self._check_channel(frame)
        image = np.asarray(frame.image)
        where = f"frame {frame.key.describe()} ({frame.origin})"
        if image.shape != layout.raw_shape:
            raise ValueError(
                f"{where}: shape {image.shape}, expected {layout.raw_shape} like the rest of "
                "the acquisition"
            )
        size = frame.pixel_size_nm
        if size is None or not math.isclose(size, layout.raw_pixel_size_nm, rel_tol=1e-6):
            raise ValueError(
                f"{where}: pixel size {size} nm, expected {layout.raw_pixel_size_nm:g} nm like "
                "the rest of the acquisition (one store holds one sampling)"
            )
        if not np.can_cast(image.dtype, layout.raw_dtype, "safe"):
            raise ValueError(
                f"{where}: dtype {image.dtype}, expected {layout.raw_dtype} (or a type that "
                "fits in it)"
            )
        key = frame.key
        record = {
            "event": "raw",
            **self._indices(key),
            "timestamp": frame.timestamp,
            "origin": frame.origin,
            "pixel_size_nm": frame.pixel_size_nm,
            "z_step_nm": frame.z_step_nm,
            "metadata": dict(frame.metadata),
            "stored_at": time.time(),
        }
        with self._disk_full_is_clear(frame, "raw frame"):
            target = self._image_for(frame)
            self._write_chunk(target.raw, key, channel, image)
            journal.append(record)
        self._raw_records[key] = record
        self._pending[key] = None
        return True

    @staticmethod
    def _indices(key: FrameKey) -> dict[str, Any]:
        return {
            "t": key.t,
            "channel": key.channel,
            "z": key.z,
            "p": key.p,
            "g": key.g,
            "run": key.run,
        }

    def pending(self) -> list[FrameKey]:
        """Return the keys whose raw frame is stored but not yet completed.

        In the order the raw frames were stored (acquisition order).
        """
        with self._lock:
            return list(self._pending)

    def completed(self) -> set[FrameKey]:
        """Return the keys whose super-resolved frame is written, or that were skipped."""
        with self._lock:
            return set(self._done)

    def load_raw(self, key: FrameKey) -> Frame:
        """Read a stored raw frame back, with the metadata and position it arrived with."""
        with self._lock:
            self._ready()
            record = self._raw_records.get(key)
            if record is None:
                raise KeyError(f"{self.path}: no raw frame stored for {key.describe()}")
            if not self.config.include_raw and key in self._done:
                raise KeyError(
                    f"{self.path}: the raw frame {key.describe()} is complete and was not kept "
                    "(output.include_raw = false)"
                )
            image_of = self._images[key.image]
            pixels = np.asarray(image_of.raw[key.t, self._channel_index[key.channel], key.z])
            return Frame(
                image=pixels,
                t=key.t,
                channel=key.channel,
                pixel_size_nm=record.get("pixel_size_nm"),
                timestamp=float(record.get("timestamp") or 0.0),
                origin=str(record.get("origin", "")),
                metadata=record.get("metadata") or {},
                z=key.z,
                position=image_of.position,
                z_step_nm=record.get("z_step_nm"),
            )

    def images(self) -> list[StoredImage]:
        """Return the store's images so far, in series order."""
        with self._lock:
            ordered = sorted(self._images.values(), key=lambda image: image.series)
            return [StoredImage(image.series, image.position) for image in ordered]

    def resume_state(self) -> ResumeState:
        """Return what the store holds (after :meth:`setup`): keys, origins and runs."""
        with self._lock:
            return ResumeState(
                keys=frozenset(self._raw_records),
                origins=frozenset(str(r.get("origin")) for r in self._raw_records.values()),
                runs=frozenset(key.run for key in self._images),
            )

    def frame_records(self) -> list[dict[str, Any]]:
        """Return the per-frame metadata table: one merged record per frame."""
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
            layout, journal = self._ready()
            engines = {channel.name: channel.engine for channel in layout.channels}
            engine = engines.get(frame.channel) or None
            record = self._completion_record(frame, "sr", qc=dict(qc), engine=engine)
            if record is None:
                return
            image = np.asarray(result.image)
            where = f"super-resolved frame {frame.key.describe()}"
            if image.shape != layout.sr_shape:
                raise ValueError(f"{where}: shape {image.shape}, expected {layout.sr_shape}")
            if not math.isclose(result.pixel_size_nm, layout.sr_pixel_size_nm, rel_tol=1e-6):
                raise ValueError(
                    f"{where}: pixel size {result.pixel_size_nm} nm, expected "
                    f"{layout.sr_pixel_size_nm} nm"
                )
            key = frame.key
            target = self._images[key.image]
            channel = self._channel_index[frame.channel]
            with self._disk_full_is_clear(frame, "super-resolved frame"):
                if self.config.include_qc and result.consistency is not None:
                    # Before the SR chunk: a frame journalled complete has its map.
                    consistency = result.consistency.map.astype(QC_DTYPE, copy=False)
                    self._write_chunk(self._qc_array(target), key, channel, consistency)
                self._write_chunk(target.sr, key, channel, image.astype(SR_DTYPE, copy=False))
                record["completed_at"] = time.time()
                journal.append(record)
            self._done[key] = record
            self._pending.pop(key, None)
            self._drop_backlog_chunk(target, key, channel)

    def reserve(self, keys: Iterable[FrameKey]) -> None:
        """Make the image of every frame in ``keys`` and size it for them (after setup).

        Other processes can then write those frames with :func:`write_sr_chunk` while this
        sink keeps the journal (:meth:`record_outcome`).
        """
        extents: dict[ImageKey, tuple[int, int]] = {}
        for key in keys:
            t, z = extents.get(key.image, (0, 0))
            extents[key.image] = (max(t, key.t), max(z, key.z))
        with self._lock:
            self._ready()
            for image, (t, z) in extents.items():
                target = self._images.get(image)
                if target is None:
                    position = Position(index=image.p, grid=image.g, run=image.run)
                    target = self._new_image(position, None)
                self._grow(target.sr, FrameKey(t, "", z))

    def record_outcome(self, key: FrameKey, event: str, **fields: Any) -> bool:
        """Journal what became of frame ``key`` whose pixels were handled by another process.

        ``event`` ``"sr"``: its chunk was written with :func:`write_sr_chunk`; ``"skip"``: it
        cannot be enhanced (give ``reason``); both complete the frame, once: a second
        completion of the same key is ignored (returns False, counted in
        ``duplicates_ignored``). ``"failed"``: an attempt failed (give ``reason``); the frame
        stays to do, and a later run tries it again. ``fields`` (origin, pixel size, QC, ...)
        are stored in the record.

        Raises
        ------
        ValueError
            Unknown channel or event.
        OutputFullError
            The disk is full.
        """
        if event not in ("sr", "skip", "failed"):
            raise ValueError(f"event {event!r}: expected 'sr', 'skip' or 'failed'")
        with self._lock:
            _, journal = self._ready()
            if key.channel not in self._channel_index:
                known = sorted(self._channel_index)
                raise ValueError(
                    f"{key.describe()}: unknown channel {key.channel!r}, expected one of {known}"
                )
            if key in self._done:
                self.duplicates_ignored += event != "failed"
                return False
            record = {"event": event, **self._indices(key), **fields}
            record["completed_at" if event != "failed" else "failed_at"] = time.time()
            try:
                journal.append(record)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                raise _disk_full(f"{event} record", key, self.path) from error
            if event != "failed":
                self._done[key] = record
                self._pending.pop(key, None)
            return True

    def skip(self, frame: Frame, reason: str) -> None:
        """Record that ``frame`` could not be enhanced, and why; its raw frame is kept."""
        with self._lock:
            _, journal = self._ready()
            record = self._completion_record(frame, "skip", reason=reason)
            if record is None:
                return
            key = frame.key
            with self._disk_full_is_clear(frame, "skip record"):
                self._grow(self._images[key.image].sr, key)
                record["completed_at"] = time.time()
                journal.append(record)
            self._done[key] = record
            self._pending.pop(key, None)

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
        return {"event": event, **self._indices(frame.key), **fields}

    def _ready(self) -> tuple[AcquisitionLayout, FrameJournal]:
        if self._layout is None or self._journal is None or self._root is None:
            raise RuntimeError(f"{self.path}: call setup() first (or the sink was closed)")
        return self._layout, self._journal

    def _check_channel(self, frame: Frame) -> int:
        index = self._channel_index.get(frame.channel)
        if index is None:
            raise ValueError(
                f"frame {frame.key.describe()} ({frame.origin}): unknown channel "
                f"{frame.channel!r}, expected one of {sorted(self._channel_index)}"
            )
        if min(frame.key.t, frame.key.z) < 0:
            raise ValueError(f"frame ({frame.origin}): negative index {frame.key.describe()}")
        return index

    @staticmethod
    def _grow(array: ZarrArray, key: FrameKey) -> None:
        times, channels, slices, *plane = array.shape
        if key.t >= times or key.z >= slices:
            array.resize((max(times, key.t + 1), channels, max(slices, key.z + 1), *plane))

    def _write_chunk(
        self, array: ZarrArray, key: FrameKey, channel: int, image: np.ndarray
    ) -> None:
        self._grow(array, key)
        _write_frame_chunk(self.path, array, key, channel, image, self.config.fsync)

    def _drop_backlog_chunk(self, image: _Image, key: FrameKey, channel: int) -> None:
        if self.config.include_raw:
            return
        chunk_key = image.raw.metadata.encode_chunk_key((key.t, channel, key.z, 0, 0))
        (self.path / image.raw.path / chunk_key).unlink(missing_ok=True)

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
            raise _disk_full(what, frame.key, self.path) from error

    def _reopen_arrays(self) -> None:
        # After a failed write zarr's in-memory metadata may be ahead of the disk: reread it.
        self._root = zarr.open_group(LocalStore(self.path), mode="r+")
        self._reopen_images()


__all__ = [
    "LayoutMismatchError",
    "OmeZarrSink",
    "OutputFullError",
    "ResumeState",
    "write_sr_chunk",
]
