"""The daemon on a watched folder: ``tcan-live watch --once`` on real confocal crops and an
MMStack file, and an NDTiff dataset written frame by frame while the daemon watches."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
from tcan_live.daemon import Daemon
from tcan_live.sinks.store_layout import stored_layout
from tests.helpers.daemon import DEMO_ENGINES, daemon_config, journal_counts
from tests.helpers.mm_files import (
    NDSTORAGE_UNCLOSED_READER,
    MMStackWriter,
    copy_ndtiff_live,
    write_ndtiff_dataset,
)

runner = CliRunner()
CROP = 48  # of the 512 px real images: 48 px at 248 nm -> 238 px at the engines' 50 nm
CHANNELS = ["microtubules", "actin"]


def test_watch_once_on_real_confocal_crops(
    shared_data: Path, tiny_engines: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "acquisition"
    originals = sorted(shared_data.glob("*.tif"))
    crops = []
    for t, path in enumerate(originals):
        image, pixel_size_nm = read_tiff_stack(path)
        assert pixel_size_nm is not None and pixel_size_nm == pytest.approx(248.0, rel=1e-3)
        crops.append(np.asarray(image).reshape(512, 512)[200 : 200 + CROP, 200 : 200 + CROP])
        write_tiff(folder / f"t{t:03d}.tif", crops[-1], pixel_size_nm)
    out = tmp_path / "confocal.zarr"
    engine = tiny_engines / DEMO_ENGINES[0]
    command = ["watch", str(folder), "--out", str(out), "--engine", str(engine), "--once"]
    result = runner.invoke(app, [*command, "--channel", "microtubules", "--no-dashboard"])
    assert result.exit_code == 0, result.output
    assert f"{len(originals)} frames taken" in result.output

    layout = stored_layout(out)
    assert layout is not None
    assert layout.raw_pixel_size_nm == pytest.approx(248.0, rel=1e-3)
    assert layout.sr_pixel_size_nm == pytest.approx(50.0)
    assert layout.sr_shape == (round(CROP * 248 / 50),) * 2  # resampled to the engine's grid
    raw = np.asarray(zarr.open_array(out / "raw" / "0" / "0", mode="r"))
    sr = np.asarray(zarr.open_array(out / "sr" / "0" / "0", mode="r"))
    assert sorted(journal_counts(out, "sr")) == [(t, "microtubules") for t in range(3)]
    for t, crop in enumerate(crops):  # file order gives t (no pattern, no metadata index)
        np.testing.assert_array_equal(raw[t, 0, 0], crop)
        assert sr[t, 0, 0].shape == layout.sr_shape and float(sr[t, 0, 0].std()) > 0


def test_watch_once_takes_an_mmstack_file(tiny_engines: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    stack = rng.integers(100, 3000, size=(3, 2, 40, 32), dtype=np.uint16)
    folder = tmp_path / "mm"
    folder.mkdir()
    writer = MMStackWriter(folder / "run_MMStack_Pos0.ome.tif", (40, 32), CHANNELS, 3, 0.05)
    for t in range(3):
        for c, channel in enumerate(CHANNELS):
            meta = {"Channel": channel, "FrameIndex": t, "PixelSizeUm": 0.05}
            writer.write(writer.parts(stack[t, c], t, c, meta))
    writer.finish()
    out = tmp_path / "mmstack.zarr"
    engines = [
        f"--engine-for={c}={tiny_engines / e}" for c, e in zip(CHANNELS, DEMO_ENGINES, strict=True)
    ]
    command = ["watch", str(folder), "--out", str(out), *engines, "--once", "--no-dashboard"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    raw = np.asarray(zarr.open_array(out / "raw" / "0" / "0", mode="r"))
    np.testing.assert_array_equal(raw[:, :, 0], stack)
    assert journal_counts(out, "sr") == {(t, c): 1 for t in range(3) for c in CHANNELS}


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_ndtiff_written_frame_by_frame_while_the_daemon_watches(
    tiny_engines: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    stack = rng.integers(100, 3000, size=(4, 2, 32, 40), dtype=np.uint16)
    finished = write_ndtiff_dataset(tmp_path / "finished", "acq", stack, CHANNELS, 0.05)
    root = tmp_path / "watched"
    root.mkdir()
    out = tmp_path / "ndtiff.zarr"
    source = {"kind": "watch", "root": str(root), "settle_s": 0.2, "poll_interval_s": 0.1}
    daemon = Daemon(daemon_config(tiny_engines, out, source))
    enhanced: list[tuple[int, str]] = []
    arrived = threading.Condition()

    def on_enhanced(frame: object, result: object, qc: object) -> None:
        with arrived:
            enhanced.append(frame.key)  # type: ignore[attr-defined]
            arrived.notify_all()

    daemon.pipeline.events.frame_enhanced.connect(on_enhanced)
    daemon.start()
    try:

        def after_frame(k: int, complete_entry: Callable[[], None]) -> None:
            complete_entry()
            with arrived:  # each frame is enhanced before the acquisition writes the next
                assert arrived.wait_for(lambda: len(enhanced) > k, timeout=30), f"frame {k}"

        copy_ndtiff_live(finished, root / "acq_1", after_frame)
    finally:
        stats = daemon.stop(drain=True)
    assert [key[:2] for key in enhanced] == [(t, c) for t in range(4) for c in CHANNELS]
    assert stats.frames_lost == 0 and stats.errors == 0
    raw = np.asarray(zarr.open_array(out / "raw" / "0" / "0", mode="r"))
    np.testing.assert_array_equal(raw[:, :, 0], stack)
