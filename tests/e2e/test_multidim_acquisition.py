"""Multi-dimensional pymmcore-plus acquisitions through the daemon: positions, z, grids, runs.

Real MDAs on the demo microscope (Python camera, filter wheel, focus and XY stage devices),
the store read back with zarr and checked with ome-zarr-models, yaozarrs and ome-zarr-py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import useq
import yaozarrs
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr.utils import find_multiscales
from ome_zarr_models.v05.bioformats2raw import BioFormats2Raw
from pymmcore_plus.experimental.unicore import UniMMCore

from tcan_live.daemon.demo_microscope import build_demo_core
from tcan_live.daemon.service import Daemon
from tcan_live.pipeline.stats import StatsSnapshot
from tests.helpers.daemon import daemon_config, previews_received
from tests.helpers.multidim import (
    CHANNELS,
    PIXEL_UM,
    POSITION_NAMES,
    POSITIONS,
    SHAPE,
    SLICES,
    STAGE_UM,
    TIMEPOINTS,
    Z_STEP_UM,
    Index,
    assert_store_holds,
    journal_index_counts,
    mda_sequence,
    multidim_stack,
    multiscale,
    read_array,
    series_of,
    stored_images,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FRAMES = POSITIONS * TIMEPOINTS * len(CHANNELS) * SLICES


def _core(stack: np.ndarray) -> UniMMCore:
    return build_demo_core(stack, CHANNELS, PIXEL_UM, z_step_um=Z_STEP_UM, positions_um=STAGE_UM)


def _acquire(
    engines: Path, out: Path, core: UniMMCore, *sequences: useq.MDASequence
) -> StatsSnapshot:
    """Run the MDAs one after the other through a daemon on ``out``; its final counters."""
    with Daemon(daemon_config(engines, out, {"kind": "pymmcore-plus"}), core=core) as daemon:
        daemon.start()
        for sequence in sequences:
            core.mda.run(sequence)
        assert daemon.wait_idle(300)
        return daemon.stop(drain=True)


def _useq_indices(sequence: useq.MDASequence) -> Counter[Index]:
    """The (p, t, channel, z) of every event useq plans for ``sequence``."""
    return Counter(
        (
            event.index.get("p", 0),
            event.index.get("t", 0),
            event.channel.config if event.channel else "",
            event.index.get("z", 0),
        )
        for event in sequence
    )


def test_positions_time_channels_and_z_are_stored_once_each_where_acquired(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack()
    core = _core(stack)
    out = tmp_path / "mda.zarr"
    preview = {"address": "tcp://127.0.0.1:*", "max_fps": 1000.0, "z_projection": True}
    daemon = Daemon(
        daemon_config(tiny_engines, out, {"kind": "pymmcore-plus"}, preview=preview), core=core
    )
    with previews_received(daemon) as previews:
        daemon.start()
        core.mda.run(mda_sequence())
        assert daemon.wait_idle(300)
        stats = daemon.stop(drain=True)

    assert stats.received == stats.stored == stats.enhanced == FRAMES
    assert stats.frames_lost == 0 and stats.errors == 0 and stats.skipped == 0
    assert_store_holds(out, stack)
    # The dashboard's progress row: n of N per axis, from the MDA's plan.
    assert daemon.progress.describe().startswith("p 2/2  t 3/3  c 2/2  z 5/5  (at t=2")
    for p in range(POSITIONS):
        series = series_of(out, p)
        assert read_array(out, "sr", series).shape == (TIMEPOINTS, 2, SLICES, *SHAPE)
        for kind in ("sr", "raw"):
            image = multiscale(out, kind, series)
            assert POSITION_NAMES[p] in image["name"]
            assert [axis["name"] for axis in image["axes"]] == ["t", "c", "z", "y", "x"]
            scale, translation = image["datasets"][0]["coordinateTransformations"]
            assert scale["scale"][2:] == pytest.approx([Z_STEP_UM, PIXEL_UM, PIXEL_UM])
            x, y = STAGE_UM[p]
            assert translation["translation"] == pytest.approx([0, 0, 0, y, x])
    names = [image["position"]["name"] for image in stored_images(out)]
    assert sorted(names) == sorted(POSITION_NAMES)

    image_labels = {p.header.get("image", "") for p in previews if p.kind == "sr"}
    assert image_labels == {"", "p1"}
    assert {(p.header["p"], p.header["z"]) for p in previews if p.kind == "raw"} >= {
        (1, SLICES - 1)
    }
    mips = [p for p in previews if p.kind == "mip"]
    assert mips and all(p.image.shape == SHAPE for p in mips)


def test_the_store_is_valid_ome_zarr_and_readers_find_every_position(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack(seed=1)
    core = _core(stack)
    out = tmp_path / "valid.zarr"
    _acquire(tiny_engines, out, core, mda_sequence())
    for kind in ("sr", "raw"):
        container = zarr.open_group(out / kind, mode="r")
        BioFormats2Raw.from_zarr(container)  # validates the container and every image in it
        found = find_multiscales(out / kind)  # ome-zarr-py: images listed by the OME-XML
        assert [Path(path).name for path, _, _ in found] == ["0", "1"]
        assert {name for _, name, _ in found} == {f"{name} ({kind})" for name in POSITION_NAMES}
        for path, _, _ in found:
            yaozarrs.validate_zarr_store(str(path))
            (node, *_) = list(Reader(parse_url(str(path)))())
            data = np.asarray(node.data[0])
            assert data.shape == (TIMEPOINTS, 2, SLICES, *SHAPE)
            assert [axis["name"] for axis in node.metadata["axes"]] == list("tczyx")
            scale = node.metadata["coordinateTransformations"][0][0]["scale"]
            assert scale[2:] == pytest.approx([Z_STEP_UM, PIXEL_UM, PIXEL_UM])
            if kind == "raw":
                p = [image["series"] for image in stored_images(out)].index(int(path.name))
                np.testing.assert_array_equal(data, stack[p])


def test_channel_specific_z_and_acquire_every_keep_useqs_indices(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack(seed=2)
    core = _core(stack)
    sequence = mda_sequence().replace(
        channels=[
            useq.Channel(config=CHANNELS[0]),
            useq.Channel(config=CHANNELS[1], do_stack=False, acquire_every=2),
        ]
    )
    wanted = _useq_indices(sequence)
    assert len(wanted) < FRAMES  # the plan really leaves frames out
    out = tmp_path / "sparse.zarr"
    stats = _acquire(tiny_engines, out, core, sequence)
    assert stats.enhanced == sum(wanted.values()) and stats.frames_lost == 0
    assert journal_index_counts(out, "raw") == wanted
    assert journal_index_counts(out, "sr") == wanted


def test_a_grid_per_position_gives_one_image_per_tile_at_its_stage_offset(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack(seed=3)[:, :1, :, :1]  # one time point, one slice
    core = build_demo_core(stack, CHANNELS, PIXEL_UM, positions_um=STAGE_UM)
    fov_um = SHAPE[1] * PIXEL_UM
    grid = useq.GridRowsColumns(rows=1, columns=2, fov_width=fov_um, fov_height=SHAPE[0] * PIXEL_UM)
    sequence = useq.MDASequence(
        stage_positions=[
            useq.Position(x=x, y=y, name=name, sequence=useq.MDASequence(grid_plan=grid))
            for (x, y), name in zip(STAGE_UM, POSITION_NAMES, strict=True)
        ],
        channels=CHANNELS,
    )
    events = list(sequence)
    tiles = {(e.index.get("p", 0), e.index.get("g", 0)): (e.x_pos, e.y_pos) for e in events}
    assert len(tiles) == 4
    out = tmp_path / "grid.zarr"
    stats = _acquire(tiny_engines, out, core, sequence)
    assert stats.enhanced == len(events) and stats.frames_lost == 0
    assert len(stored_images(out)) == 4
    for (p, g), (x, y) in tiles.items():
        series = series_of(out, p, g=g)
        transforms = multiscale(out, "sr", series)["datasets"][0]["coordinateTransformations"]
        assert transforms[1]["translation"] == pytest.approx([0, 0, 0, y, x])
        raw = read_array(out, "raw", series)
        assert raw.shape == (1, 2, 1, *SHAPE) and np.all(raw.reshape(2, -1).max(axis=1) > 0)


def test_a_second_mda_on_the_same_core_is_a_new_run_and_loses_nothing(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack(seed=4)
    core = _core(stack)
    out = tmp_path / "runs.zarr"
    sequence = mda_sequence().replace(time_plan={"interval": 0, "loops": 1})
    stats = _acquire(tiny_engines, out, core, sequence, sequence)  # the same indices again
    per_run = _useq_indices(sequence)
    assert stats.enhanced == 2 * sum(per_run.values()) and stats.frames_lost == 0
    for run in (0, 1):
        assert journal_index_counts(out, "sr", run) == per_run
    assert sorted(
        (image["position"]["run"], image["position"]["index"]) for image in stored_images(out)
    ) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # The camera replays the next time point on the second pass: the runs hold different data.
    first, second = (read_array(out, "raw", series_of(out, 0, run)) for run in (0, 1))
    np.testing.assert_array_equal(first[0], stack[0, 0])
    np.testing.assert_array_equal(second[0], stack[0, 1])


def _child(engines: Path, out: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.mda_daemon_child", str(engines), str(out), mode],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    if child.stdout is not None:
        child.stdout.close()


def _restart_and_drain(engines: Path, out: Path) -> int:
    """A new daemon on the store, no acquisition: it finishes the backlog; return resumed."""
    config = daemon_config(engines, out, {"kind": "pymmcore-plus"})
    with Daemon(config, core=_core(multidim_stack())) as daemon:
        daemon.start()
        assert daemon.wait_idle(300)
        stats = daemon.stop(drain=True)
    assert stats.frames_lost == 0 and stats.errors == 0
    return stats.resumed


def test_sigkill_after_the_acquisition_then_restart_completes_every_frame_once(
    tiny_engines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed.zarr"
    child = _child(tiny_engines, out, "after-acquisition")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["stored", str(FRAMES)]
    finally:
        _kill(child)
    done_before = sum(journal_index_counts(out, "sr").values())
    assert 1 <= done_before < FRAMES  # the worker was held: SR half done at the kill
    assert _restart_and_drain(tiny_engines, out) == FRAMES - done_before
    assert_store_holds(out, multidim_stack())


def test_sigkill_during_the_acquisition_keeps_what_was_stored_and_a_rerun_is_a_new_run(
    tiny_engines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed-mid.zarr"
    child = _child(tiny_engines, out, "during-acquisition")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["stored", str(FRAMES // 3)]
    finally:
        _kill(child)  # the MDA is held after a third of its frames: killed mid-acquisition
    stored = journal_index_counts(out, "raw")
    assert stored.total() == FRAMES // 3 and set(stored.values()) == {1}
    _restart_and_drain(tiny_engines, out)
    assert_store_holds(out, multidim_stack(), indices=stored)

    stack = multidim_stack()
    core = _core(stack)
    config = daemon_config(tiny_engines, out, {"kind": "pymmcore-plus"})
    with Daemon(config, core=core) as daemon:  # the microscopist acquires again
        daemon.start()
        core.mda.run(mda_sequence())
        assert daemon.wait_idle(300)
    assert_store_holds(out, stack, run=1)
    assert_store_holds(out, stack, run=0, indices=stored)
