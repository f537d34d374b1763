"""Progress along each axis, as the dashboard shows it."""

from __future__ import annotations

from tcan_live.core.acquisition import FrameKey
from tcan_live.pipeline.progress import AcquisitionProgress


def test_nothing_yet_says_so() -> None:
    assert AcquisitionProgress().describe() == "waiting for the first frame"


def test_a_time_lapse_shows_time_and_channels_only() -> None:
    progress = AcquisitionProgress()
    for t in range(3):
        for channel in ("a", "b"):
            progress.record(FrameKey(t, channel))
    assert progress.describe() == "t 3  c 2  (at t=2 channel 'b')"


def test_a_planned_mda_shows_n_of_n_per_axis() -> None:
    progress = AcquisitionProgress()
    progress.plan({"t": 3, "p": 2, "c": 2, "z": 5})
    for z in range(4):
        progress.record(FrameKey(0, "a", z=z, p=1))
    assert progress.describe() == "p 1/2  t 1/3  c 1/2  z 4/5  (at t=0 channel 'a' z=3 p=1)"


def test_a_new_run_counts_again() -> None:
    progress = AcquisitionProgress()
    for t in range(4):
        progress.record(FrameKey(t, "a"))
    progress.record(FrameKey(0, "a", run=1))
    assert progress.describe() == "at t=0 channel 'a' run=1"
