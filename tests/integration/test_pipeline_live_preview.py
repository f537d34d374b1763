"""Newest-first order: the preview jumps to the newest frame; every frame is still stored once.

The worker is held after its first frame (on its own ``frame_enhanced`` signal) until every
other frame is in the durable backlog, so the engine is "slower than the camera" without
timing: what comes next is decided by the order alone.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tcan_live.core.acquisition import ChannelInfo, Frame
from tcan_live.engine.torch_eager import TorchEagerBackend
from tcan_live.model import NormalizationSpec
from tcan_live.pipeline.limits import PipelineLimits
from tcan_live.pipeline.pipeline import Pipeline
from tcan_live.pipeline.preview_feed import PreviewFeed
from tcan_live.preview.config import PreviewConfig
from tcan_live.preview.protocol import Preview
from tcan_live.preview.publisher import PreviewPublisher
from tcan_live.preview.subscriber import PreviewSubscriber
from tcan_live.runtime import Enhancer
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink
from tcan_live.sinks.rejected import RejectedFrames
from tests.synthetic import filament_image, tiny_generator

CHANNEL = ChannelInfo("microtubules", "FF00FF")
FRAMES = 8


def _frame(t: int) -> Frame:
    image = (filament_image((40, 40), 50.0, seed=t) * 2000 + 100).astype(np.uint16)
    return Frame(image, t, CHANNEL.name, 50.0, time.time(), f"test#{t}")


def _run(tmp_path: Path, order: str) -> tuple[list[Preview], Pipeline, Path]:
    out = tmp_path / f"{order}.zarr"
    store = OmeZarrSink(OutputConfig(path=out, fsync=False))
    backend = TorchEagerBackend(tiny_generator(), tile=32, max_batch=8)
    enhancer = Enhancer(backend, pixel_size_nm=50.0, normalization=NormalizationSpec(), halo=8)
    publisher = PreviewPublisher(
        PreviewConfig(address="tcp://127.0.0.1:*", max_fps=1000.0, send_hwm=100)
    )
    pipeline = Pipeline(
        (CHANNEL,),
        {CHANNEL.name: enhancer},
        store,
        [store],
        rejected=RejectedFrames(out.parent / "rejected"),
        previews=PreviewFeed(publisher, (CHANNEL,), raw=False),
        limits=PipelineLimits(order=order, batch_frames=1),
    )
    stored, released = threading.Event(), threading.Event()
    counts = {"stored": 0, "enhanced": 0}

    def on_stored(_key: object) -> None:
        counts["stored"] += 1
        if counts["stored"] == FRAMES:
            stored.set()

    def on_enhanced(*_: object) -> None:
        counts["enhanced"] += 1
        if counts["enhanced"] == 1:
            assert stored.wait(60)  # the worker waits here until the backlog is full
            released.set()

    pipeline.events.frame_stored.connect(on_stored)
    pipeline.events.frame_enhanced.connect(on_enhanced)
    received: list[Preview] = []
    done, listening = threading.Event(), threading.Event()

    def listen() -> None:
        with PreviewSubscriber(publisher.endpoint, topics=["sr/"]) as subscriber:
            listening.set()
            while True:
                if (preview := subscriber.receive(timeout=0.2)) is not None:
                    received.append(preview)
                elif done.is_set():
                    break

    listener = threading.Thread(target=listen)
    listener.start()
    assert listening.wait(10)
    pipeline.submit(_frame(0))
    pipeline.start()
    for t in range(1, FRAMES):
        pipeline.submit(_frame(t))
    assert pipeline.wait_idle(120) and released.is_set()
    pipeline.stop()
    store.close()
    done.set()
    listener.join(30)
    publisher.close()
    return received, pipeline, out


def _sr_records(store: Path) -> list[int]:
    lines = (store / "tcan_live" / "journal.jsonl").read_text().splitlines()
    return [json.loads(line)["t"] for line in lines if json.loads(line)["event"] == "sr"]


def test_newest_first_shows_the_newest_frame_and_stores_every_frame_once(
    tmp_path: Path,
) -> None:
    previews, pipeline, store = _run(tmp_path, "newest-first")
    # Previews are latest-wins on the wire: what arrives is a subset of what was offered.
    shown = [preview.t for preview in previews if preview.kind == "sr"]
    assert shown and shown[-1] == FRAMES - 1 and set(shown) <= {0, FRAMES - 1}
    assert shown == sorted(shown)  # never back in time
    assert len(pipeline.stats.preview_latencies_ms()) == 2  # the backlog's are stale
    records = _sr_records(store)
    assert sorted(records) == list(range(FRAMES))  # each frame enhanced and stored once
    assert records[:2] == [0, FRAMES - 1] and records[2:] == list(range(1, FRAMES - 1))
    stats = pipeline.stats.snapshot()
    assert stats.enhanced == FRAMES and stats.frames_lost == 0
    assert stats.preview_latency_ms_p50 > 0


def test_acquisition_order_shows_every_frame_in_order(tmp_path: Path) -> None:
    previews, pipeline, store = _run(tmp_path, "acquisition")
    assert _sr_records(store) == list(range(FRAMES))
    assert len(pipeline.stats.preview_latencies_ms()) == FRAMES
    shown = [preview.t for preview in previews if preview.kind == "sr"]
    assert shown == sorted(shown) and shown[-1] == FRAMES - 1


def test_order_is_checked() -> None:
    with pytest.raises(ValueError, match="order"):
        PipelineLimits(order="random")
