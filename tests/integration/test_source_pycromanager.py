"""pycromanager's Acquisition (Python backend on Python devices) with our image_process_fn."""

from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest

from tcan_live.core.acquisition import Frame
from tcan_live.daemon.demo_microscope import CHANNEL_GROUP, build_demo_core
from tcan_live.sources.pycromanager_hook import PycromanagerSource
from tests.helpers.mm_files import NDSTORAGE_UNCLOSED_READER
from tests.helpers.pycromanager_backend import python_backend
from tests.helpers.watching import watching

CHANNELS = ["DAPI", "FITC"]
TIMEPOINTS = 10


def _acquire(stack: np.ndarray, directory: Path, hook: object | None) -> Path:
    from pycromanager import Acquisition, multi_d_acquisition_events

    core = build_demo_core(stack, CHANNELS, pixel_size_um=0.248)
    events = multi_d_acquisition_events(
        num_time_points=TIMEPOINTS, channel_group=CHANNEL_GROUP, channels=CHANNELS
    )
    with python_backend(core):
        with Acquisition(str(directory), "run", image_process_fn=hook) as acq:
            acq.acquire(events)
        acq.get_dataset().close()  # pycromanager leaves its own reader's files open
    (dataset,) = directory.iterdir()
    return dataset


def _read_ndtiff(path: Path) -> dict[tuple[int, str], tuple[np.ndarray, dict[str, object]]]:
    from ndtiff import Dataset

    dataset = Dataset(str(path))
    try:
        return {
            (t, c): (
                np.asarray(dataset.read_image(time=t, channel=c)),
                dataset.read_metadata(time=t, channel=c),
            )
            for t in range(TIMEPOINTS)
            for c in CHANNELS
        }
    finally:
        dataset.close()


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_acquisition_saves_raw_unchanged_and_every_frame_reaches_emit(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    stack = rng.integers(0, 4096, size=(TIMEPOINTS, len(CHANNELS), 16, 24), dtype=np.uint16)
    frames: queue.Queue[Frame] = queue.Queue()
    source = PycromanagerSource()
    source.start(frames.put)

    baseline = _read_ndtiff(_acquire(stack, tmp_path / "without-hook", None))
    hooked = _read_ndtiff(_acquire(stack, tmp_path / "with-hook", source.image_process_fn))
    source.stop()

    # pycromanager's own saved data: the camera's frames, raw dtype, same as without our hook.
    assert hooked.keys() == baseline.keys()
    for key, (image, metadata) in hooked.items():
        t, channel = key
        assert image.dtype == np.uint16
        np.testing.assert_array_equal(image, stack[t, CHANNELS.index(channel)])
        np.testing.assert_array_equal(image, baseline[key][0])
        assert metadata["Axes"] == baseline[key][1]["Axes"]
        assert metadata["PixelSize_um"] == baseline[key][1]["PixelSize_um"]

    got = [frames.get_nowait() for _ in range(frames.qsize())]
    assert sorted(f.key[:2] for f in got) == sorted(hooked)
    for frame in got:
        np.testing.assert_array_equal(frame.image, hooked[frame.key[:2]][0])
        assert frame.pixel_size_nm == pytest.approx(248.0)
        assert frame.origin == "pycromanager"


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_watch_folder_follows_pycromanagers_own_ndtiff_while_it_is_written(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    stack = rng.integers(0, 4096, size=(TIMEPOINTS, len(CHANNELS), 16, 24), dtype=np.uint16)
    with watching(tmp_path, polling=False) as watched:
        _acquire(stack, tmp_path / "acquisition", None)
        got = [watched.next_frame() for _ in range(TIMEPOINTS * len(CHANNELS))]
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()
    assert sorted(f.key[:2] for f in got) == sorted(
        (t, c) for t in range(TIMEPOINTS) for c in CHANNELS
    )
    for frame in got:
        np.testing.assert_array_equal(frame.image, stack[frame.t, CHANNELS.index(frame.channel)])
        assert frame.pixel_size_nm == pytest.approx(248.0)
