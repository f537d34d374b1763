"""Faults while writing OME-Zarr: a writer killed with SIGKILL, and a disk that fills up."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr

from tcan_live.core.acquisition import FrameKey
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink, OutputFullError
from tests.conftest import REPO_ROOT
from tests.helpers.small_disk import mounted_small_disk
from tests.integration.omezarr_helpers import CHANNELS, enhance, layout, raw_frame

SR_LINES_BEFORE_KILL = 30


def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.omezarr_writer_child", str(out), "100000"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    reported: list[tuple[str, int, str]] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            event, t, channel = line.split()
            reported.append((event, int(t), channel))
            if sum(event == "sr" for event, _, _ in reported) >= SR_LINES_BEFORE_KILL:
                break
        child.send_signal(signal.SIGKILL)  # while it keeps writing
    finally:
        child.kill()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    assert ("finished", 0, "") not in reported

    sink = OmeZarrSink(OutputConfig(path=out))
    sink.setup(layout())
    completed, pending = sink.completed(), sink.pending()
    stored = [FrameKey(row["t"], row["channel"]) for row in sink.frame_records()]
    reported_sr = {FrameKey(t, c) for event, t, c in reported if event == "sr"}
    reported_raw = [FrameKey(t, c) for event, t, c in reported if event == "raw"]
    # Every frame written before the kill is there; the journal may hold a few more.
    assert reported_sr <= completed
    assert stored[: len(reported_raw)] == reported_raw
    assert pending == [key for key in stored if key not in completed]
    assert pending, "the child always keeps a backlog of raw frames"
    assert stored == sorted(stored, key=lambda key: (key[0], CHANNELS.index(key[1])))
    assert not list(out.rglob("*.partial"))

    # An independent reader sees every completed chunk whole and every stored raw frame.
    sr = zarr.open_array(out / "sr" / "0" / "0", mode="r")
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r")
    for key in stored:
        frame, c = raw_frame(key.t, key.channel), CHANNELS.index(key.channel)
        np.testing.assert_array_equal(raw[key.t, c, 0], frame.image)
        if key in completed:
            np.testing.assert_array_equal(sr[key.t, c, 0], enhance(frame).image)

    for key in pending:
        frame = sink.load_raw(key)
        sink.append(frame, enhance(frame), {})
    assert sink.pending() == [] and sink.completed() == set(stored)
    sink.close()
    sr = zarr.open_array(out / "sr" / "0" / "0", mode="r")
    for key in stored:
        expected = enhance(raw_frame(key.t, key.channel)).image
        np.testing.assert_array_equal(sr[key.t, CHANNELS.index(key.channel), 0], expected)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_small_disk(tmp_path / "disk", "384k") as mount_point:
        yield mount_point


def test_disk_full_gives_clear_error_and_keeps_earlier_frames(small_disk: Path) -> None:
    out = small_disk / "out.zarr"
    sink = OmeZarrSink(OutputConfig(path=out))
    shape = (64, 64)
    sink.setup(layout(raw_shape=shape, scale=1))
    written: list[FrameKey] = []
    with pytest.raises(OutputFullError) as caught:
        for t in range(1000):
            for channel in CHANNELS:
                frame = raw_frame(t, channel, shape)
                sink.store_raw(frame)
                sink.append(frame, enhance(frame, scale=1), {})
                written.append(frame.key)
    message = str(caught.value)
    assert "\n" not in message
    assert "output disk full" in message and str(out) in message
    assert "frames written before are intact" in message
    assert len(written) >= 4
    sink.close()

    # Earlier frames are intact for an independent reader, and a restart sees them as done.
    sr = zarr.open_array(out / "sr" / "0" / "0", mode="r")
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r")
    for t, channel, *_ in written:
        frame = raw_frame(t, channel, shape)
        np.testing.assert_array_equal(raw[t, CHANNELS.index(channel), 0], frame.image)
        expected = enhance(frame, scale=1).image
        np.testing.assert_array_equal(sr[t, CHANNELS.index(channel), 0], expected)
    resumed = OmeZarrSink(OutputConfig(path=out))
    resumed.setup(layout(raw_shape=shape, scale=1))
    assert set(written) <= resumed.completed()
    assert len(resumed.pending()) <= 1  # at most the frame whose SR did not fit
    resumed.close()
