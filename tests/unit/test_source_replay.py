"""Replaying a simulated time-lapse at a set rate."""

from __future__ import annotations

import queue
import time
from typing import Any

import numpy as np
import pytest

from tcan_live.core.acquisition import Frame
from tcan_live.sources.replay import ReplaySource

CHANNELS = ["microtubules", "actin"]


def _stack(t: int = 3) -> np.ndarray:
    return np.arange(t * 2 * 4 * 5, dtype=np.uint16).reshape(t, 2, 4, 5)


def test_stack_is_replayed_in_acquisition_order_with_loops() -> None:
    frames: queue.Queue[Frame] = queue.Queue()
    source = ReplaySource.from_stack(_stack(), CHANNELS, 50.0, loops=2)
    source.start(frames.put)
    assert source.wait(timeout=10)
    source.stop()
    got = [frames.get_nowait() for _ in range(frames.qsize())]
    assert [f.key[:2] for f in got] == [(t, c) for t in range(6) for c in CHANNELS]
    for frame in got:
        np.testing.assert_array_equal(
            frame.image, _stack()[frame.t % 3, CHANNELS.index(frame.channel)]
        )
        assert frame.pixel_size_nm == 50.0
    assert source.emitted == 12


def test_frames_are_never_emitted_ahead_of_the_schedule() -> None:
    rate_hz = 100.0
    stamps: list[float] = []
    source = ReplaySource.from_stack(_stack(5), CHANNELS, 50.0, rate_hz=rate_hz)
    start = time.monotonic()
    source.start(lambda frame: stamps.append(time.monotonic()))
    assert source.wait(timeout=10)
    source.stop()
    assert len(stamps) == 10
    for k, stamp in enumerate(stamps):
        assert stamp - start >= k / rate_hz - 1e-3


def test_stop_ends_a_slow_replay_early() -> None:
    frames: queue.Queue[Frame] = queue.Queue()
    source = ReplaySource.from_stack(_stack(), CHANNELS, 50.0, rate_hz=2.0, loops=100)
    source.start(frames.put)
    frames.get(timeout=10)
    source.stop()
    assert source.done.is_set() and source.emitted < 600
    source.stop()  # idempotent


@pytest.mark.parametrize(
    ("options", "message"), [({"rate_hz": -1.0}, "rate_hz"), ({"loops": 0}, "loops")]
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplaySource.from_stack(_stack(), CHANNELS, 50.0, **options)
