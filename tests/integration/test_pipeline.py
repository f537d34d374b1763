"""The pipeline with real enhancers (tiny TCAN, torch eager), the real OME-Zarr store."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from tcan_live.core.acquisition import ChannelInfo, Frame, FrameKey
from tcan_live.engine.torch_eager import TorchEagerBackend
from tcan_live.model import NormalizationSpec
from tcan_live.pipeline.limits import PipelineLimits
from tcan_live.pipeline.pipeline import Pipeline
from tcan_live.runtime import Enhancer
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink
from tcan_live.sinks.rejected import RejectedFrames
from tcan_live.sinks.store_layout import stored_layout
from tests.synthetic import filament_image, tiny_generator

CHANNELS = (ChannelInfo("microtubules", "FF00FF"), ChannelInfo("actin", "00FFFF"))
SHAPE = (48, 40)


def _enhancer() -> Enhancer:
    backend = TorchEagerBackend(tiny_generator(), tile=32, max_batch=8)
    return Enhancer(backend, pixel_size_nm=50.0, normalization=NormalizationSpec(), halo=8)


def _pipeline(out: Path, **limits) -> tuple[Pipeline, OmeZarrSink]:
    store = OmeZarrSink(OutputConfig(path=out, fsync=False))
    pipeline = Pipeline(
        CHANNELS,
        {channel.name: _enhancer() for channel in CHANNELS},
        store,
        [store],
        rejected=RejectedFrames(out.parent / "rejected"),
        limits=PipelineLimits(**limits),
    )
    return pipeline, store


def _frame(t: int, channel: str, image: np.ndarray | None = None) -> Frame:
    if image is None:
        image = (filament_image(SHAPE, 50.0, seed=t) * 2000 + 100).astype(np.uint16)
    return Frame(image, t, channel, 50.0, time.time(), "test")


def test_every_frame_ends_up_enhanced_skipped_or_kept(tmp_path: Path) -> None:
    pipeline, store = _pipeline(tmp_path / "out.zarr", max_frames_in_memory=3)
    pipeline.start()
    for t in range(10):
        for channel in CHANNELS:
            pipeline.submit(_frame(t, channel.name))
    pipeline.submit(_frame(10, "GFP"))  # unknown channel
    pipeline.submit(_frame(11, "actin", image=np.zeros((20, 20), dtype=np.uint16)))  # shape
    pipeline.submit(_frame(12, "actin", image=np.full(SHAPE, np.nan, dtype=np.float32)))
    pipeline.submit(_frame(3, "actin"))  # duplicate
    assert pipeline.wait_idle(timeout=300)
    pipeline.stop()
    stats = pipeline.stats.snapshot()
    assert stats.received == 24 and stats.frames_lost == 0
    assert stats.enhanced == 20 and stats.duplicates == 1 and stats.rejected == 3
    assert stats.in_memory_peak <= 3
    store.close()

    sr = zarr.open_array(tmp_path / "out.zarr" / "sr" / "0" / "0", mode="r")
    raw = zarr.open_array(tmp_path / "out.zarr" / "raw" / "0" / "0", mode="r")
    assert sr.shape == (10, 2, 1, *SHAPE) and raw.shape == (10, 2, 1, *SHAPE)
    assert np.all(np.asarray(sr).reshape(20, -1).std(axis=1) > 0)  # every SR frame written
    np.testing.assert_array_equal(raw[4, 1, 0], _frame(4, "actin").image)
    kept = sorted((tmp_path / "rejected").glob("*.json"))
    reasons = [json.loads(path.read_text())["reason"] for path in kept]
    assert len(kept) == 3
    assert any("unknown channel 'GFP'" in reason for reason in reasons)
    assert any("shape (20, 20)" in reason for reason in reasons)
    assert any("NaN" in reason or "dtype float32" in reason for reason in reasons)


def test_restart_resumes_the_backlog(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    pipeline, store = _pipeline(out, batch_frames=1)
    pipeline.start()
    for t in range(6):
        for channel in CHANNELS:
            pipeline.submit(_frame(t, channel.name))
    pipeline.stop(drain=False)  # stored all twelve, enhanced only what was under way
    store.close()
    unfinished = OmeZarrSink(OutputConfig(path=out, fsync=False))
    layout = stored_layout(out)
    assert layout is not None
    unfinished.setup(layout)
    left = unfinished.pending()
    unfinished.close()
    assert len(left) >= 1

    again, store = _pipeline(out)
    again.start(layout)
    assert again.wait_idle(timeout=300)
    again.stop()
    assert again.stats.snapshot().resumed == len(left)
    assert store.pending() == [] and len(store.completed()) == 12
    store.close()


def test_channels_need_engines(tmp_path: Path) -> None:
    store = OmeZarrSink(OutputConfig(path=tmp_path / "o.zarr"))
    with pytest.raises(ValueError, match=r"channels \['actin'\] have no engine"):
        Pipeline(
            CHANNELS,
            {"microtubules": _enhancer()},
            store,
            [store],
            rejected=RejectedFrames(tmp_path / "r"),
        )


def test_a_frame_its_source_could_not_accept_is_kept_with_the_reason(tmp_path: Path) -> None:
    pipeline, store = _pipeline(tmp_path / "out.zarr")
    pipeline.start()
    pipeline.submit(_frame(0, "actin"))
    marked = Frame(
        np.ones(SHAPE, np.uint16), 1, "actin", None, 0.0, "pymmcore-plus", problem="no pixel size"
    )
    pipeline.submit(marked)
    assert pipeline.wait_idle(timeout=300)
    pipeline.stop()
    store.close()
    stats = pipeline.stats.snapshot()
    assert stats.enhanced == 1 and stats.rejected == 1 and stats.frames_lost == 0
    (kept,) = (tmp_path / "rejected").glob("*.json")
    assert json.loads(kept.read_text())["reason"] == (
        "pymmcore-plus t=1 channel 'actin': no pixel size"
    )
    assert store.pending() == [] and FrameKey(1, "actin") not in store.completed()
