"""The daemon fed by real acquisition engines: pymmcore-plus MDA and pycromanager's Acquisition,
with previews on a real socket and resumption after a stop without draining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import useq
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr_models import open_ome_zarr
from ome_zarr_models.v05.image import Image

from tcan_live.daemon import Daemon, DaemonError
from tcan_live.daemon.demo_microscope import CHANNEL_GROUP, build_demo_core
from tests.helpers.daemon import (
    acquire_with_pycromanager,
    daemon_config,
    journal_counts,
    previews_received,
)
from tests.helpers.mm_files import NDSTORAGE_UNCLOSED_READER
from tests.synthetic import filament_image

CHANNELS = ["microtubules", "actin"]
TIMEPOINTS = 10
SHAPE = (48, 64)
PIXEL_UM = 0.05  # the tiny engines' training pixel size: frames go through unresampled


def _stack(timepoints: int = TIMEPOINTS) -> np.ndarray:
    frames = [
        [filament_image(SHAPE, 50.0, seed=10 * t + c) * 3000 + 100 for c in range(len(CHANNELS))]
        for t in range(timepoints)
    ]
    return np.asarray(frames).astype(np.uint16)


def _run_mda(daemon: Daemon, core: object, timepoints: int = TIMEPOINTS) -> None:
    sequence = useq.MDASequence(time_plan={"interval": 0, "loops": timepoints}, channels=CHANNELS)
    core.mda.run(sequence)  # type: ignore[attr-defined]  # blocks until acquired


def _read(path: Path) -> tuple[np.ndarray, dict[str, object]]:
    nodes = list(Reader(parse_url(str(path)))())
    assert nodes, f"ome-zarr-py found no image at {path}"
    return np.asarray(nodes[0].data[0]), nodes[0].metadata


def test_mmcore_mda_through_the_daemon_with_live_previews(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = _stack()
    core = build_demo_core(stack, CHANNELS, pixel_size_um=PIXEL_UM)
    out = tmp_path / "mda.zarr"
    preview = {"enabled": True, "address": "tcp://127.0.0.1:*", "max_fps": 200.0}
    config = daemon_config(tiny_engines, out, {"kind": "pymmcore-plus"}, preview=preview)
    daemon = Daemon(config, core=core)
    with previews_received(daemon) as previews:
        daemon.start()
        _run_mda(daemon, core)
        assert daemon.wait_idle(120)
        stats = daemon.stop(drain=True)

    assert stats.received == stats.enhanced == TIMEPOINTS * len(CHANNELS)
    assert stats.frames_lost == 0 and stats.errors == 0
    kinds = {preview.kind for preview in previews}
    assert {"sr", "raw", "composite"} <= kinds, kinds
    assert all(p.image.shape == SHAPE for p in previews if p.kind == "sr")

    sr, sr_meta = _read(out / "sr" / "0")
    raw, raw_meta = _read(out / "raw" / "0")
    assert sr.shape == raw.shape == (TIMEPOINTS, 2, 1, *SHAPE)
    np.testing.assert_array_equal(raw[:, :, 0], stack)
    assert np.all(sr.reshape(TIMEPOINTS * 2, -1).std(axis=1) > 0)  # every frame enhanced
    assert not np.array_equal(sr, raw.astype(np.float32))
    for meta in (sr_meta, raw_meta):
        scale = meta["coordinateTransformations"][0][0]["scale"]  # type: ignore[index]
        assert scale[3:] == pytest.approx([PIXEL_UM, PIXEL_UM])
        assert meta["channel_names"] == CHANNELS
        assert meta["colormap"] == [[[0, 0, 0], [1, 0, 1]], [[0, 0, 0], [0, 1, 1]]]
    for name in ("sr", "raw"):
        assert isinstance(open_ome_zarr(zarr.open_group(out / name / "0", mode="r")), Image)
    assert journal_counts(out, "sr") == {(t, c): 1 for t in range(TIMEPOINTS) for c in CHANNELS}


def test_stop_without_drain_then_restart_completes_every_frame_once(
    tiny_engines: Path, tmp_path: Path
) -> None:
    stack = _stack()
    out = tmp_path / "resume.zarr"
    limits = {"performance": {"batch_frames": 1, "max_frames_in_memory": 2}}
    config = daemon_config(tiny_engines, out, {"kind": "pymmcore-plus"}, **limits)
    first = Daemon(config, core=(core := build_demo_core(stack, CHANNELS, PIXEL_UM)))
    first.start()
    _run_mda(first, core)
    stopped = first.stop(drain=False)  # every frame stored raw, enhancement cut short
    assert stopped.stored == TIMEPOINTS * 2
    left = TIMEPOINTS * 2 - stopped.enhanced
    print(f"\nstopped without draining: {stopped.enhanced} enhanced, {left} left pending")
    assert left >= 1

    second = Daemon(config, core=build_demo_core(stack, CHANNELS, PIXEL_UM))
    second.start()  # no new acquisition: only the backlog
    assert second.wait_idle(120)
    resumed = second.stop()
    assert resumed.resumed == left and resumed.enhanced == left and resumed.frames_lost == 0
    every = {(t, c): 1 for t in range(TIMEPOINTS) for c in CHANNELS}
    assert journal_counts(out, "sr") == every and journal_counts(out, "raw") == every
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r")
    np.testing.assert_array_equal(np.asarray(raw)[:, :, 0], stack)

    swapped = config.model_copy(update={"channels": dict(reversed(config.channels.items()))})
    with Daemon(swapped, core=core) as other, pytest.raises(DaemonError, match="another acq"):
        other.start()


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_pycromanager_acquisition_with_the_daemons_hook(tiny_engines: Path, tmp_path: Path) -> None:
    from ndtiff import Dataset
    from pycromanager import multi_d_acquisition_events

    stack = _stack()
    out = tmp_path / "pycromanager.zarr"
    daemon = Daemon(daemon_config(tiny_engines, out, {"kind": "pycromanager"}))
    daemon.start()
    core = build_demo_core(stack, CHANNELS, pixel_size_um=PIXEL_UM)
    events = multi_d_acquisition_events(
        num_time_points=TIMEPOINTS, channel_group=CHANNEL_GROUP, channels=CHANNELS
    )
    stats = acquire_with_pycromanager(daemon, core, events, tmp_path / "mm")
    assert stats.enhanced == TIMEPOINTS * 2 and stats.frames_lost == 0

    (saved,) = (tmp_path / "mm").iterdir()
    dataset = Dataset(str(saved))
    try:
        for t in range(TIMEPOINTS):
            for c, channel in enumerate(CHANNELS):
                image = np.asarray(dataset.read_image(time=t, channel=channel))
                assert image.dtype == np.uint16  # Micro-Manager's raw data, untouched
                np.testing.assert_array_equal(image, stack[t, c])
    finally:
        dataset.close()
    assert journal_counts(out, "sr") == {(t, c): 1 for t in range(TIMEPOINTS) for c in CHANNELS}
    np.testing.assert_array_equal(
        np.asarray(zarr.open_array(out / "raw" / "0" / "0", mode="r"))[:, :, 0], stack
    )
