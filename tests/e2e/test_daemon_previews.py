"""A preview subscriber that never reads must not slow or block the daemon's pipeline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import useq
import zmq

from tcan_live.daemon import Daemon
from tcan_live.daemon.demo_microscope import build_demo_core
from tcan_live.pipeline.stats import StatsSnapshot
from tests.helpers.daemon import daemon_config

CHANNELS = ["microtubules", "actin"]
TIMEPOINTS = 10


def _run(engines: Path, out: Path, preview: dict[str, Any]) -> tuple[Daemon, StatsSnapshot, float]:
    """Acquire and enhance; return the daemon, its counters and frames/s from start to idle."""
    rng = np.random.default_rng(7)
    stack = rng.integers(100, 3000, size=(TIMEPOINTS, 2, 64, 64), dtype=np.uint16)
    core = build_demo_core(stack, CHANNELS, pixel_size_um=0.05)
    daemon = Daemon(
        daemon_config(engines, out, {"kind": "pymmcore-plus"}, preview=preview), core=core
    )
    context = zmq.Context()
    stalled = context.socket(zmq.SUB)  # subscribes to everything and never reads
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    if daemon.publisher is not None:
        stalled.connect(daemon.publisher.endpoint)
    try:
        started = time.perf_counter()
        daemon.start()
        core.mda.run(
            useq.MDASequence(time_plan={"interval": 0, "loops": TIMEPOINTS}, channels=CHANNELS)
        )
        assert daemon.wait_idle(120)
        frames_per_s = TIMEPOINTS * len(CHANNELS) / (time.perf_counter() - started)
        stats = daemon.stop(drain=True)
    finally:
        stalled.close(linger=0)
        context.term()
    return daemon, stats, frames_per_s


def test_a_subscriber_that_never_reads_does_not_slow_the_pipeline(
    tiny_engines: Path, tmp_path: Path
) -> None:
    _, without, rate_without = _run(tiny_engines, tmp_path / "without.zarr", {"enabled": False})
    preview = {"address": "tcp://127.0.0.1:*", "max_fps": 1000.0, "send_hwm": 1}
    daemon, stalled, rate_stalled = _run(tiny_engines, tmp_path / "stalled.zarr", preview)
    publisher = daemon.publisher
    assert publisher is not None
    print(
        f"\nframes/s from start to idle: without previews {rate_without:.1f}, with a "
        f"subscriber that never reads {rate_stalled:.1f} (ratio {rate_stalled / rate_without:.2f})"
        f"; latency p95 "
        f"{without.latency_ms_p95:.0f} vs {stalled.latency_ms_p95:.0f} ms; publisher: "
        f"{publisher.stats.published} offered, {publisher.stats.sent} sent, "
        f"{publisher.stats.replaced} replaced, {publisher.stats.send_dropped} dropped"
    )
    frames = TIMEPOINTS * len(CHANNELS)
    for stats in (without, stalled):
        assert stats.enhanced == frames and stats.frames_lost == 0 and stats.errors == 0
    # Every preview offer returned (raw, sr and qc per frame, a composite per time point) ...
    assert publisher.stats.published == 3 * frames + TIMEPOINTS
    # ... and what the stalled subscriber did not take was dropped on the preview side only.
    assert publisher.stats.sent + publisher.stats.replaced + publisher.stats.send_dropped >= 1
