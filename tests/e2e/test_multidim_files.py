"""Positions x time x channels x z from pycromanager's hook and from Micro-Manager's files.

pycromanager's Python acquisition engine on the demo microscope; an MMStack acquisition (one
file per position, as Micro-Manager writes them) and an NDTiff dataset, each written image by
image while the daemon watches. Every store is checked by reading it with zarr.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr

from tcan_live.daemon import Daemon
from tcan_live.daemon.demo_microscope import CHANNEL_GROUP, build_demo_core
from tcan_live.daemon.service import run_until
from tests.helpers.daemon import acquire_with_pycromanager, daemon_config
from tests.helpers.mm_files import (
    NDSTORAGE_UNCLOSED_READER,
    MMStackWriter,
    copy_ndtiff_live,
    write_ndtiff_dataset,
)
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
    assert_store_holds,
    every_index,
    multidim_stack,
    multiscale,
    series_of,
    stored_images,
)

FRAMES = POSITIONS * TIMEPOINTS * len(CHANNELS) * SLICES
REPO_ROOT = Path(__file__).resolve().parents[2]


def _z_scale_um(store: Path, p: int) -> float:
    transforms = multiscale(store, "sr", series_of(store, p))["datasets"][0]
    return float(transforms["coordinateTransformations"][0]["scale"][2])


class _Enhanced:
    """Counts the daemon's enhanced frames; lets a writer wait for the k-th one."""

    def __init__(self, daemon: Daemon) -> None:
        self.count = 0
        self._arrived = threading.Condition()
        daemon.pipeline.events.frame_enhanced.connect(self._on_enhanced)

    def _on_enhanced(self, *_: object) -> None:
        with self._arrived:
            self.count += 1
            self._arrived.notify_all()

    def wait_for(self, count: int) -> None:
        with self._arrived:
            assert self._arrived.wait_for(lambda: self.count >= count, timeout=60), count


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_pycromanager_z_stacks_at_two_labelled_positions(
    tiny_engines: Path, tmp_path: Path
) -> None:
    from pycromanager import multi_d_acquisition_events

    stack = multidim_stack(seed=5)
    out = tmp_path / "pycromanager.zarr"
    # pycromanager's events carry no z step: the config gives it.
    config = daemon_config(
        tiny_engines,
        out,
        {"kind": "pycromanager"},
        output={"path": str(out), "fsync": False, "z_step_nm": Z_STEP_UM * 1000},
    )
    daemon = Daemon(config)
    daemon.start()
    core = build_demo_core(stack, CHANNELS, PIXEL_UM, z_step_um=Z_STEP_UM, positions_um=STAGE_UM)
    half_range = Z_STEP_UM * (SLICES - 1) / 2
    events = multi_d_acquisition_events(
        num_time_points=TIMEPOINTS,
        z_start=-half_range,
        z_end=half_range,
        z_step=Z_STEP_UM,
        channel_group=CHANNEL_GROUP,
        channels=CHANNELS,
        xy_positions=[list(xy) for xy in STAGE_UM],
        position_labels=list(POSITION_NAMES),
    )
    assert len(events) == FRAMES
    stats = acquire_with_pycromanager(daemon, core, events, tmp_path / "mm")
    assert stats.enhanced == FRAMES and stats.frames_lost == 0 and stats.errors == 0
    assert_store_holds(out, stack)
    names = [image["position"]["name"] for image in stored_images(out)]
    assert names == list(POSITION_NAMES)
    assert _z_scale_um(out, 1) == pytest.approx(Z_STEP_UM)


def _watch(root: Path) -> dict[str, object]:
    return {"kind": "watch", "root": str(root), "settle_s": 0.2, "poll_interval_s": 0.05}


def test_mmstack_files_per_position_with_slices_written_while_watched(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack(seed=6)
    root = tmp_path / "acquisition"
    root.mkdir()
    out = tmp_path / "mmstack.zarr"
    daemon = Daemon(daemon_config(tiny_engines, out, _watch(root)))
    enhanced = _Enhanced(daemon)
    daemon.start()
    try:
        writers = [
            MMStackWriter(
                root / f"run_MMStack_{name}.ome.tif",
                SHAPE,
                CHANNELS,
                TIMEPOINTS,
                PIXEL_UM,
                slices=SLICES,
                positions=POSITIONS,
                z_step_um=Z_STEP_UM,
            )
            for name in POSITION_NAMES
        ]
        written = 0
        # Micro-Manager's order: each time point visits every position (its own file).
        for t in range(TIMEPOINTS):
            for p, writer in enumerate(writers):
                for c, channel in enumerate(CHANNELS):
                    for z in range(SLICES):
                        x, y = STAGE_UM[p]
                        meta = {
                            "Channel": channel,
                            "ElapsedTime-ms": 1000.0 * t,
                            "PositionName": POSITION_NAMES[p],
                            "XPositionUm": x,
                            "YPositionUm": y,
                            "ZPositionUm": Z_STEP_UM * z,
                        }
                        parts = writer.parts(stack[p, t, c, z], t, c, meta, z=z, p=p)
                        writer.write(parts[1:])  # the image first, its index entry last
                        writer.write(parts[:1])
                        written += 1
                        enhanced.wait_for(written)
        for writer in writers:
            writer.finish()
    finally:
        stats = daemon.stop(drain=True)
    assert stats.frames_lost == 0 and stats.errors == 0
    assert_store_holds(out, stack)
    assert _z_scale_um(out, 0) == pytest.approx(Z_STEP_UM)


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_ndtiff_with_positions_and_slices_written_while_watched(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = multidim_stack(seed=7)
    finished = write_ndtiff_dataset(tmp_path / "finished", "acq", stack, CHANNELS, PIXEL_UM)
    root = tmp_path / "watched"
    root.mkdir()
    out = tmp_path / "ndtiff.zarr"
    daemon = Daemon(daemon_config(tiny_engines, out, _watch(root)))
    enhanced = _Enhanced(daemon)
    daemon.start()
    try:

        def after_frame(k: int, complete_entry: Callable[[], None]) -> None:
            assert enhanced.count == k  # not taken before its index entry is complete
            complete_entry()
            enhanced.wait_for(k + 1)

        copy_ndtiff_live(finished, root / "acq_1", after_frame)
    finally:
        stats = daemon.stop(drain=True)
    assert stats.frames_lost == 0 and stats.errors == 0
    assert_store_holds(out, stack)
    for p in range(POSITIONS):
        assert f"Pos{p}" in multiscale(out, "raw", series_of(out, p))["name"]
    assert np.asarray(zarr.open_array(out / "sr" / "0" / "0", mode="r")).shape[2] == SLICES


def test_replay_of_a_hyperstack_and_a_two_position_ome_tiff(
    tiny_engines: Path, tmp_path: Path
) -> None:
    import tifffile

    stack = multidim_stack(seed=8)  # (P, T, C, Z, Y, X)
    hyperstack = tmp_path / "files" / "left.tif"
    hyperstack.parent.mkdir()
    per_um = 1 / PIXEL_UM
    tifffile.imwrite(
        hyperstack,
        stack[0].transpose(0, 2, 1, 3, 4),  # ImageJ's order: T, Z, C, Y, X
        imagej=True,
        resolution=(per_um, per_um),
        metadata={"axes": "TZCYX", "spacing": Z_STEP_UM, "unit": "um"},
    )
    ome = tmp_path / "files" / "both.ome.tif"
    with tifffile.TiffWriter(ome, ome=True) as writer:
        for p in range(POSITIONS):
            metadata = {
                "axes": "TCZYX",
                "Name": POSITION_NAMES[p],
                "PhysicalSizeX": PIXEL_UM,
                "PhysicalSizeZ": Z_STEP_UM,
                "Channel": {"Name": CHANNELS},
            }
            writer.write(stack[p], photometric="minisblack", metadata=metadata)
    aliases = {str(c): name for c, name in enumerate(CHANNELS)}  # ImageJ records no names
    for files, out in (([hyperstack], tmp_path / "hyper.zarr"), ([ome], tmp_path / "ome.zarr")):
        source = {"kind": "replay", "files": [str(f) for f in files], "channel_aliases": aliases}
        stats = run_until(Daemon(daemon_config(tiny_engines, out, source)), threading.Event())
        assert stats.frames_lost == 0 and stats.errors == 0
        positions = 1 if files == [hyperstack] else POSITIONS
        wanted = every_index()
        wanted = Counter({index: n for index, n in wanted.items() if index[0] < positions})
        assert_store_holds(out, stack, indices=wanted)
        assert _z_scale_um(out, 0) == pytest.approx(Z_STEP_UM)


def test_the_z_stack_watch_folder_example_maps_sites_slices_and_channels(
    tiny_engines: Path, tmp_path: Path
) -> None:
    from tcan_live.core.tiff_files import write_tiff
    from tcan_live.daemon.config import load_config
    from tcan_live.sources.watch import WatchSourceConfig

    example = load_config(REPO_ROOT / "config" / "watch-zstack.toml", check_engines=False)
    assert isinstance(example.source, WatchSourceConfig) and example.source.pattern
    stack = multidim_stack(seed=9)
    root = tmp_path / "zstack"
    for p, t, c, z in np.ndindex(stack.shape[:4]):
        name = f"site-{p}/t{t:04d}_z{z:03d}_{CHANNELS[c]}.tif"
        write_tiff(root / name, stack[p, t, c, z], PIXEL_UM * 1000)
    out = tmp_path / "zstack.zarr"
    source = {"kind": "watch", "root": str(root), "pattern": example.source.pattern}
    output = {"path": str(out), "fsync": False, "z_step_nm": example.output.z_step_nm}
    daemon = Daemon(daemon_config(tiny_engines, out, source, output=output))
    assert daemon.run_once() == FRAMES
    assert_store_holds(out, stack)
    assert _z_scale_um(out, 1) == pytest.approx((example.output.z_step_nm or 0) / 1000)
