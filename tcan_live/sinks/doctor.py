"""``tcan-live doctor``: check a store independently of the writer that made it.

Reads the store as a stranger would (zarr on the files, the journal line by line) and reports:
every chunk on disk decodes; no chunk lies outside its array's shape (such a frame is invisible
to every reader); the arrays are not sized far beyond the frames they hold; the journal and the
arrays agree (each journalled frame has its chunk, each chunk its journal record, no frame
journalled twice; each frame whose result was checked has its consistency map); and which
frames are pending or skipped, and why.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.storage import LocalStore

from tcan_live.core.acquisition import FrameKey, Position
from tcan_live.core.frame_check import MAX_TIME_INDEX
from tcan_live.sinks.journal import parse_records
from tcan_live.sinks.store_layout import (
    BACKLOG_GROUP,
    JOURNAL_PATH,
    QC_GROUP,
    RAW_GROUP,
    SR_GROUP,
    ZarrArray,
    array_path,
    record_key,
    stored_images,
    stored_includes_raw,
    stored_layout,
)
from tcan_live.sinks.store_lock import StoreInUseError, StoreLock


@dataclass
class StoreReport:
    """What :func:`examine_store` found.

    Attributes
    ----------
    damage
        One line per problem that makes data wrong, invisible or unreadable.
    notes
        One line per fact worth knowing that is not damage (pending frames, a writer at work).
    counts
        Frames by state: ``raw``, ``sr``, ``skip``, ``pending``.
    """

    store: Path
    damage: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """Whether nothing is damaged."""
        return not self.damage


def examine_store(path: str | Path) -> StoreReport:
    """Check the store at ``path`` (read-only); see the module docstring for what is checked.

    Raises
    ------
    ValueError
        ``path`` is not a tcan-live store (one line saying why).
    """
    store = Path(path)
    report = StoreReport(store)
    if not (store / "zarr.json").is_file():
        raise ValueError(f"{store}: not a Zarr store (no zarr.json): expected a tcan-live store")
    layout = stored_layout(store)  # raises for a store of another writer or format
    assert layout is not None
    channels = [channel.name for channel in layout.channels]
    raw_kept = stored_includes_raw(store)
    _writer(store, report)
    records = _journal(store, report)
    kinds = {
        "sr": SR_GROUP,
        "raw": RAW_GROUP if raw_kept else None,
        "qc": QC_GROUP if (store / QC_GROUP).is_dir() else None,
    }
    chunks: dict[str, set[FrameKey]] = {name: set() for name, group in kinds.items() if group}
    for image in stored_images(store):
        for name, group in kinds.items():
            if group is None:
                continue
            where = f"{name} image {image.series}"
            try:
                array: ZarrArray = zarr.open_array(
                    LocalStore(store / array_path(group, image.series), read_only=True), mode="r"
                )
            except (OSError, ValueError, KeyError) as error:
                report.damage.append(f"{where}: the array cannot be opened ({error})")
                continue
            folder = store / array_path(group, image.series)
            chunks[name] |= _chunks(folder, array, where, image.position, channels, report)
    _agreement(records, chunks, raw_kept, report)
    return report


def _writer(store: Path, report: StoreReport) -> None:
    lock = StoreLock(store)
    if not lock.path.exists():
        return
    try:
        lock.acquire()
    except StoreInUseError as error:
        report.notes.append(f"in use: {error}")
        return
    except OSError as error:
        report.damage.append(f"the writer's lock file cannot be opened ({error.strerror})")
        return
    lock.release()


def _journal(store: Path, report: StoreReport) -> list[dict[str, Any]]:
    path = store / JOURNAL_PATH
    if path.is_symlink():
        report.damage.append(f"{JOURNAL_PATH} is a symbolic link (its records may lie elsewhere)")
        return []
    if not path.is_file():
        report.damage.append(f"{JOURNAL_PATH} is missing: which frames are complete is unknown")
        return []
    parsed, torn = parse_records(path.read_bytes())
    records = [record for record in parsed if "t" in record and "channel" in record]
    torn += len(parsed) - len(records)
    if torn:
        report.notes.append(f"{torn} torn or unreadable journal line(s) (a write cut short)")
    return records


def _chunk_keys(folder: Path) -> list[tuple[int, ...]]:
    """Chunk coordinates present on disk (zarr v3 default encoding ``c/i/j/k/l``)."""
    base = folder / "c"
    found = []
    for directory, _, files in os.walk(base):
        for name in files:
            if name.endswith(".partial"):
                continue
            parts = Path(directory, name).relative_to(base).parts
            if all(part.isdigit() for part in parts):
                found.append(tuple(int(part) for part in parts))
    return sorted(found)


def _chunks(
    folder: Path,
    array: ZarrArray,
    name: str,
    position: Position,
    channels: list[str],
    report: StoreReport,
) -> set[FrameKey]:
    times, channel_count, slices = array.shape[:3]
    keys = _chunk_keys(folder)
    present: set[FrameKey] = set()
    outside = [k for k in keys if k[0] >= times or k[1] >= channel_count or k[2] >= slices]
    for key in outside[:5]:
        report.damage.append(
            f"{name}: chunk t={key[0]} c={key[1]} z={key[2]} lies outside the array's shape "
            f"{array.shape}: no reader sees that frame"
        )
    if len(outside) > 5:
        report.damage.append(f"{name}: {len(outside) - 5} more chunks outside the array's shape")
    for key in keys:
        if key in outside:
            continue
        try:
            np.asarray(array[key[0], key[1], key[2]])
        except Exception as error:  # whatever the codec raises on a damaged chunk
            report.damage.append(
                f"{name}: chunk t={key[0]} c={key[1]} z={key[2]} does not decode "
                f"({type(error).__name__})"
            )
            continue
        if key[1] < len(channels):
            present.add(
                FrameKey(
                    key[0], channels[key[1]], key[2], position.index, position.grid, position.run
                )
            )
    last = max((key[0] for key in keys), default=-1)
    if times > MAX_TIME_INDEX or times > 2 * (last + 1) + 1000:
        report.damage.append(
            f"{name}: sized to {times} time points, but its last frame is t={last}: readers "
            "that allocate by shape (dask, ome-zarr-py) cannot open it"
        )
    return present


def _agreement(
    records: list[dict[str, Any]],
    chunks: dict[str, set[FrameKey]],
    raw_kept: bool,
    report: StoreReport,
) -> None:
    by_event: dict[str, Counter[FrameKey]] = {"raw": Counter(), "sr": Counter(), "skip": Counter()}
    reasons: Counter[str] = Counter()
    for record in records:
        event = str(record.get("event"))
        if event in by_event:
            by_event[event][record_key(record)] += 1
        if event == "skip":
            reasons[str(record.get("reason", "no reason recorded"))] += 1
    for event, counter in by_event.items():
        twice = [key for key, count in counter.items() if count > 1]
        if twice:
            report.damage.append(
                f"{len(twice)} frame(s) journalled as {event} more than once (e.g. "
                f"{twice[0].describe()}): two writers on one store"
            )
    raw, sr, skip = (set(by_event[event]) for event in ("raw", "sr", "skip"))
    if "raw" in chunks:
        _compare("raw", raw, chunks["raw"], report)
    elif not raw_kept:
        report.notes.append(
            f"raw frames not kept (include_raw = false; {BACKLOG_GROUP} holds pending)"
        )
    if "sr" in chunks:
        _compare("sr", sr, chunks["sr"], report)
    if "qc" in chunks:  # a frame whose result was checked has its consistency map
        checked = {
            record_key(record)
            for record in records
            if record.get("event") == "sr"
            and isinstance(record.get("qc"), dict)
            and "consistency_rsp" in record["qc"]
        }
        _compare("qc", checked, chunks["qc"], report)
    pending = raw - sr - skip
    report.counts = {"raw": len(raw), "sr": len(sr), "skip": len(skip), "pending": len(pending)}
    if pending:
        first = min(pending)
        report.notes.append(
            f"{len(pending)} frame(s) pending (raw stored, not enhanced; e.g. "
            f"{first.describe()}): the run stopped first; the same command resumes them"
        )
    for reason, count in reasons.most_common(5):
        report.notes.append(f"{count} frame(s) skipped: {reason}")


def _compare(
    name: str, journalled: set[FrameKey], on_disk: set[FrameKey], report: StoreReport
) -> None:
    missing = sorted(journalled - on_disk)
    if missing:
        report.damage.append(
            f"{name}: {len(missing)} journalled frame(s) have no chunk (e.g. "
            f"{missing[0].describe()}): lost after they were recorded"
        )
    unrecorded = sorted(on_disk - journalled)
    if len(unrecorded) == 1:  # one write cut short by a kill: the next run writes it again
        report.notes.append(
            f"{name}: 1 chunk without its journal record ({unrecorded[0].describe()}): a write "
            "cut short; the next run on the store redoes it"
        )
    elif unrecorded:
        report.damage.append(
            f"{name}: {len(unrecorded)} chunk(s) without a journal record (e.g. "
            f"{unrecorded[0].describe()}): written by another writer, or by hand"
        )
