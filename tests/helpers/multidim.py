"""A multi-dimensional acquisition (positions x time x channels x z) and how to check its store.

The store is read back with zarr and the JSON documents alone, never with tcan-live's own
reader, so the layout documented in docs/outputs.md is what is checked.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import zarr

CHANNELS = ["microtubules", "actin"]
SHAPE = (32, 40)
POSITIONS, TIMEPOINTS, SLICES = 2, 3, 5
Z_STEP_UM = 0.5
PIXEL_UM = 0.05  # the tiny engines' training pixel size: frames go through unresampled
STAGE_UM = ((0.0, 0.0), (200.0, 50.0))
POSITION_NAMES = ("left-cell", "right-cell")
Index = tuple[int, int, str, int]  # (p, t, channel, z)


def multidim_stack(seed: int = 0) -> np.ndarray:
    """(P, T, C, Z, Y, X) uint16 frames, every plane different."""
    rng = np.random.default_rng(seed)
    shape = (POSITIONS, TIMEPOINTS, len(CHANNELS), SLICES, *SHAPE)
    return rng.integers(100, 3000, size=shape, dtype=np.uint16)


def every_index() -> Counter[Index]:
    """Each (p, t, channel, z) of the acquisition once."""
    return Counter(
        (p, t, channel, z)
        for p in range(POSITIONS)
        for t in range(TIMEPOINTS)
        for channel in CHANNELS
        for z in range(SLICES)
    )


def mda_sequence() -> Any:
    """The pymmcore-plus MDA: named positions, a time plan, two channels and a z range."""
    import useq

    return useq.MDASequence(
        stage_positions=[
            useq.Position(x=x, y=y, z=0.0, name=name)
            for (x, y), name in zip(STAGE_UM, POSITION_NAMES, strict=True)
        ],
        time_plan={"interval": 0, "loops": TIMEPOINTS},
        channels=CHANNELS,
        z_plan={"range": Z_STEP_UM * (SLICES - 1), "step": Z_STEP_UM},
    )


def journal_index_counts(store: Path, event: str, run: int | None = None) -> Counter[Index]:
    """How often each (p, t, channel, z) has ``event`` in the journal (of ``run``, or any)."""
    counts: Counter[Index] = Counter()
    for line in (store / "tcan_live" / "journal.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("event") != event or (run is not None and record.get("run", 0) != run):
            continue
        counts[(record["p"], record["t"], record["channel"], record["z"])] += 1
    return counts


def group_attributes(group: Path) -> dict[str, Any]:
    """A Zarr v3 group's attributes, read from its ``zarr.json`` as plain JSON."""
    document: dict[str, Any] = json.loads((group / "zarr.json").read_text())
    assert document["zarr_format"] == 3 and document["node_type"] == "group", group
    attributes: dict[str, Any] = document.get("attributes", {})
    return attributes


def multiscale(store: Path, kind: str, series: int) -> dict[str, Any]:
    """The NGFF multiscale (name, axes, datasets) of image ``series`` of ``kind``."""
    found: dict[str, Any] = group_attributes(store / kind / str(series))["ome"]["multiscales"][0]
    return found


def stored_images(store: Path) -> list[dict[str, Any]]:
    """The images the root attributes list: series number and position document."""
    images: list[dict[str, Any]] = group_attributes(store)["tcan_live"]["images"]
    return images


def series_of(store: Path, p: int, run: int = 0, g: int = 0) -> int:
    """The series number of position ``p`` (tile ``g``, run ``run``) in the store."""
    for image in stored_images(store):
        position = image["position"]
        if (position["index"], position["grid"], position["run"]) == (p, g, run):
            return int(image["series"])
    raise AssertionError(f"{store}: no image for position {p} tile {g} run {run}")


def read_array(store: Path, kind: str, series: int) -> np.ndarray:
    """An image's full-resolution array (t, c, z, y, x), read with zarr."""
    return np.asarray(zarr.open_array(store / kind / str(series) / "0", mode="r"))


def assert_store_holds(
    store: Path, stack: np.ndarray, run: int = 0, indices: Counter[Index] | None = None
) -> None:
    """Every (p, t, c, z) of ``indices`` (default: all) is stored once, raw equal to ``stack``.

    Checks the journal (each raw and SR record exactly once, nothing else of this run) and
    the arrays: raw pixels equal, SR planes written (not the fill value), shapes as acquired.
    """
    wanted = every_index() if indices is None else indices
    assert journal_index_counts(store, "raw", run) == wanted
    assert journal_index_counts(store, "sr", run) == wanted
    assert journal_index_counts(store, "skip", run) == Counter()
    for p in sorted({index[0] for index in wanted}):
        series = series_of(store, p, run)
        raw, sr = read_array(store, "raw", series), read_array(store, "sr", series)
        assert raw.shape[1:] == sr.shape[1:] == (len(CHANNELS), raw.shape[2], *SHAPE)
        for _, t, channel, z in (index for index in wanted if index[0] == p):
            c = CHANNELS.index(channel)
            np.testing.assert_array_equal(raw[t, c, z], stack[p, t, c, z])
            assert float(sr[t, c, z].std()) > 0, (p, t, channel, z)
