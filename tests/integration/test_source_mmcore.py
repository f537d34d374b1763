"""A real pymmcore-plus MDA on Python devices, followed by MMCoreSource."""

from __future__ import annotations

import itertools
import queue

import numpy as np
import pytest
import useq

from tcan_live.core.acquisition import Frame, FrameKey
from tcan_live.daemon.demo_microscope import build_demo_core
from tcan_live.sources.mmcore import MMCoreSource

CHANNELS = ["DAPI", "FITC"]
TIMEPOINTS = 10


def _stack(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 4096, size=(TIMEPOINTS, len(CHANNELS), 24, 32), dtype=np.uint16)


def _drain(frames: queue.Queue[Frame]) -> list[Frame]:
    out = []
    while not frames.empty():
        out.append(frames.get_nowait())
    return out


def _sequence() -> useq.MDASequence:
    return useq.MDASequence(time_plan={"interval": 0, "loops": TIMEPOINTS}, channels=CHANNELS)


def test_every_frame_of_a_dual_channel_mda_arrives_once(rng: np.random.Generator) -> None:
    stack = _stack(rng)
    core = build_demo_core(stack, CHANNELS, pixel_size_um=0.248)
    source = MMCoreSource(core)
    frames: queue.Queue[Frame] = queue.Queue()
    source.start(frames.put)
    core.mda.run(_sequence())  # blocks until the acquisition ends
    source.stop()

    got = _drain(frames)
    assert sorted(f.key[:2] for f in got) == sorted(
        (t, c) for t in range(TIMEPOINTS) for c in CHANNELS
    )
    for frame in got:
        np.testing.assert_array_equal(frame.image, stack[frame.t, CHANNELS.index(frame.channel)])
        assert frame.pixel_size_nm == pytest.approx(248.0)
        assert frame.origin == "pymmcore-plus"
        assert frame.metadata["index"]["t"] == frame.t
    # Each frame owns its pixels (the core may reuse its buffer for the next image).
    assert not any(np.shares_memory(a.image, b.image) for a, b in itertools.pairwise(got))
    stamps = [f.timestamp for f in got]
    assert stamps == sorted(stamps)


def test_stop_disconnects_and_override_wins(rng: np.random.Generator) -> None:
    core = build_demo_core(_stack(rng), CHANNELS, pixel_size_um=0.1)
    source = MMCoreSource(core, pixel_size_nm=50.0)
    frames: queue.Queue[Frame] = queue.Queue()
    source.start(frames.put)
    core.mda.run(useq.MDASequence(time_plan={"interval": 0, "loops": 2}, channels=CHANNELS))
    first = _drain(frames)
    assert len(first) == 4
    assert {f.pixel_size_nm for f in first} == {50.0}

    source.stop()
    source.stop()  # idempotent
    core.mda.run(useq.MDASequence(time_plan={"interval": 0, "loops": 2}, channels=CHANNELS))
    assert frames.empty()


def test_frames_without_channel_use_the_default_and_core_pixel_size(
    rng: np.random.Generator,
) -> None:
    core = build_demo_core(_stack(rng)[:, :1], ["DAPI"], pixel_size_um=0.065)
    source = MMCoreSource(core, default_channel="widefield")
    frames: queue.Queue[Frame] = queue.Queue()
    source.start(frames.put)
    core.mda.run(useq.MDASequence(time_plan={"interval": 0, "loops": 3}))
    source.stop()
    got = _drain(frames)
    assert [f.key[:2] for f in got] == [(0, "widefield"), (1, "widefield"), (2, "widefield")]
    assert got[0].pixel_size_nm == pytest.approx(65.0)


@pytest.mark.parametrize(
    ("shape", "names", "message"),
    [
        ((2, 2, 8), ["a", "b"], "expected a \\(P, T, C, Z, Y, X\\) array"),
        ((2, 2, 8, 8), ["a"], "channel_names: expected 2 unique names"),
    ],
)
def test_build_demo_core_refuses_bad_input(
    shape: tuple[int, ...], names: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_demo_core(np.zeros(shape, np.uint16), names, pixel_size_um=0.1)


def test_a_failing_consumer_is_reported_and_the_acquisition_completes(
    rng: np.random.Generator,
) -> None:
    core = build_demo_core(_stack(rng), CHANNELS, pixel_size_um=0.1)
    errors: list[str] = []
    delivered: list[Frame] = []

    def flaky(frame: Frame) -> None:
        if frame.t == 1:
            raise RuntimeError("queue full")
        delivered.append(frame)

    source = MMCoreSource(core, on_error=errors.append)
    source.start(flaky)
    core.mda.run(useq.MDASequence(time_plan={"interval": 0, "loops": 3}, channels=CHANNELS))
    source.stop()
    assert sorted(f.key[:2] for f in delivered) == [
        (t, c) for t in (0, 2) for c in sorted(CHANNELS)
    ]
    assert len(errors) == 2 and all("queue full" in e for e in errors)


def test_frames_without_a_pixel_size_arrive_marked_so_they_are_kept(
    rng: np.random.Generator,
) -> None:
    core = build_demo_core(_stack(rng), CHANNELS, pixel_size_um=0.248)
    core.setPixelSizeUm("Demo", 0.0)  # a core whose pixel size was never calibrated
    source = MMCoreSource(core)
    frames: queue.Queue[Frame] = queue.Queue()
    source.start(frames.put)
    core.mda.run(useq.MDASequence(time_plan={"interval": 0, "loops": 2}, channels=CHANNELS))
    source.stop()
    delivered = _drain(frames)
    assert len(delivered) == 4
    assert all(frame.problem and "no pixel size" in frame.problem for frame in delivered)


def test_frames_arrive_when_the_core_was_made_under_a_qt_application(
    rng: np.random.Generator, napari_display: str
) -> None:
    """pymmcore-plus then emits Qt signals; nothing here runs a Qt event loop."""
    pytest.importorskip("napari", reason="Qt comes with the napari extra")
    from napari.qt import get_qapp

    get_qapp()
    core = build_demo_core(_stack(rng), CHANNELS, pixel_size_um=0.248)
    assert type(core.mda.events).__name__ == "QMDASignaler"  # the backend under test
    source = MMCoreSource(core)
    frames: queue.Queue[Frame] = queue.Queue()
    source.start(frames.put)
    core.mda.run(_sequence())  # on this thread: blocks until the acquisition ends
    core.run_mda(_sequence()).join()  # on pymmcore-plus's own acquisition thread
    source.stop()

    got = _drain(frames)
    assert sorted(f.key for f in got) == sorted(
        FrameKey(t, c, run=run) for run in (0, 1) for t in range(TIMEPOINTS) for c in CHANNELS
    )
