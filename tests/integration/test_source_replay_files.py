"""Replaying the real confocal files through the config factory."""

from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tcan_live.core.acquisition import Frame
from tcan_live.sources.registry import make_source, parse_source_config
from tcan_live.sources.replay import ReplaySource


def test_replay_section_reads_real_files(shared_data: Path) -> None:
    files = sorted(shared_data.glob("*.tif"))
    config = parse_source_config(
        {"kind": "replay", "files": [str(f) for f in files], "default_channel": "microtubules"}
    )
    source = make_source(config)
    assert isinstance(source, ReplaySource)
    frames: queue.Queue[Frame] = queue.Queue()
    source.start(frames.put)
    assert source.wait(timeout=30)
    source.stop()
    got = [frames.get_nowait() for _ in range(frames.qsize())]
    assert [f.key[:2] for f in got] == [
        (0, "microtubules"),
        (1, "microtubules"),
        (2, "microtubules"),
    ]
    for frame, path in zip(got, files, strict=True):
        np.testing.assert_array_equal(frame.image, tifffile.imread(path))
        assert frame.pixel_size_nm == pytest.approx(248.0, rel=1e-4)
        assert frame.origin == f"replay:{path}"
