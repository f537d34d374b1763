"""Helpers for batch tests: datasets written by real writers, and stores read back with zarr."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from tests.synthetic import filament_image


def filament_stack(
    frames: int, shape: tuple[int, int] = (64, 64), gain: float = 900.0
) -> np.ndarray:
    """(T, Y, X) uint16 confocal-like frames, a different scene per frame."""
    return np.stack(
        [filament_image(shape, 100.0, seed=t) * gain * (1 + 0.05 * t) for t in range(frames)]
    ).astype(np.uint16)


def write_ome_zarr(
    path: Path,
    stack: np.ndarray,
    channels: Sequence[str],
    pixel_size_um: float,
    *,
    version: str = "0.5",
    time_increment_s: float = 2.0,
) -> Path:
    """Write a (T, C, Y, X) or (T, C, Z, Y, X) stack as an NGFF image with ome-zarr-py."""
    from ome_zarr.format import FormatV04, FormatV05

    with warnings.catch_warnings():
        # ome-zarr 0.18's writer builds a deprecated Scaler as a default argument at import.
        warnings.filterwarnings("ignore", "Call to deprecated class Scaler", DeprecationWarning)
        from ome_zarr.writer import write_image

    fmt = FormatV05() if version == "0.5" else FormatV04()
    window = {"min": 0.0, "max": 65535.0, "start": 0.0, "end": 65535.0}
    root = zarr.open_group(path, mode="w", zarr_format=fmt.zarr_format)
    write_image(
        stack if stack.ndim == 5 else stack[:, :, None],
        root,
        axes="tczyx",
        fmt=fmt,
        scale_factors=[2],
        scale={"t": time_increment_s, "c": 1.0, "z": 1.0, "y": pixel_size_um, "x": pixel_size_um},
        axes_units={"t": "second", "z": "micrometer", "y": "micrometer", "x": "micrometer"},
        omero={
            "channels": [{"label": name, "color": "FFFFFF", "window": window} for name in channels]
        },
    )
    return path


def journal(store: Path) -> list[dict[str, Any]]:
    """Every record of a store's journal, in order."""
    lines = (store / "tcan_live" / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def completions(store: Path) -> Counter[tuple[int, str]]:
    """How often each (t, channel) was completed (``sr`` or ``skip``) in the journal."""
    return Counter(
        (int(r["t"]), str(r["channel"])) for r in journal(store) if r["event"] in ("sr", "skip")
    )


def sr_array(store: Path) -> np.ndarray:
    """The super-resolved (t, c, y, x) of a one-position, one-slice store, read with zarr.

    Opened with zarr directly (not through tcan-live): image 0's array (t, c, z, y, x).
    """
    array = np.asarray(zarr.open_array(store / "sr" / "0" / "0", mode="r"))
    assert array.shape[2] == 1, f"{store}: {array.shape[2]} z slices, expected one"
    return array[:, :, 0]


def initialized_chunks(store: Path) -> int:
    """Chunks of image 0's super-resolved array that zarr itself counts as written."""
    return int(zarr.open_array(store / "sr" / "0" / "0", mode="r").nchunks_initialized)


def written_chunks(store: Path) -> int:
    """Chunk files of the super-resolved array on disk (one per stored frame)."""
    return sum(1 for path in (store / "sr" / "0" / "0" / "c").rglob("*") if path.is_file())


def records(store: Path, event: str) -> dict[tuple[int, str], dict[str, Any]]:
    """The ``event`` records of a store's journal by (t, channel) (the last one of each)."""
    return {(int(r["t"]), str(r["channel"])): r for r in journal(store) if r["event"] == event}


def dump(value: Any) -> str:
    """Compact JSON, for assertion messages."""
    return json.dumps(value, default=str)[:2000]
