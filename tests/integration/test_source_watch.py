"""The watch folder with real files, live NDTiff and MMStack writers, and slow writers.

Every test runs with the native (inotify) observer and with the polling observer.
"""

from __future__ import annotations

import io
import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tcan_live.core.acquisition import Frame
from tests.helpers.mm_files import (
    NDSTORAGE_UNCLOSED_READER,
    MMStackWriter,
    copy_ndtiff_live,
    write_ndtiff_dataset,
)
from tests.helpers.watching import watching

CHANNELS = ["DAPI", "FITC"]


@pytest.fixture(params=["inotify", "polling"])
def polling(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "polling")


def _stack(rng: np.random.Generator, frames: int = 3) -> np.ndarray:
    return rng.integers(0, 4096, size=(frames, len(CHANNELS), 12, 16), dtype=np.uint16)


def _check(frame: Frame, stack: np.ndarray, pixel_size_nm: float) -> None:
    np.testing.assert_array_equal(frame.image, stack[frame.t, CHANNELS.index(frame.channel)])
    assert frame.pixel_size_nm == pytest.approx(pixel_size_nm, rel=1e-3)


def test_real_confocal_files_copied_into_a_subfolder(
    shared_data: Path, tmp_path: Path, polling: bool
) -> None:
    originals = sorted(shared_data.glob("*.tif"))
    assert len(originals) == 3
    mapper = {"pattern": r"Tubulin(?P<t>\d+)\.tif$", "default_channel": "microtubules"}
    # Tubulin3 ends in 96 zero rows, as a pre-allocated file not yet filled would: without a
    # close event (polling) it is taken once unchanged for give_up_after_s.
    with watching(tmp_path, polling=polling, mapper=mapper, give_up_after_s=2.0) as watched:
        (tmp_path / "run1").mkdir()
        for original in originals:
            shutil.copyfile(original, tmp_path / "run1" / original.name)
        got = {frame.t: frame for frame in (watched.next_frame() for _ in originals)}
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()
    assert sorted(got) == [1, 2, 3]
    for original in originals:
        frame = got[int(original.stem[-1])]
        np.testing.assert_array_equal(frame.image, tifffile.imread(original))
        assert frame.pixel_size_nm == pytest.approx(248.0, rel=1e-4)  # from resolution tags
        assert frame.channel == "microtubules" and frame.image.dtype == np.uint16
        assert frame.origin == f"watch:{tmp_path / 'run1' / original.name}"


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_ndtiff_dataset_written_frame_by_frame(
    rng: np.random.Generator, tmp_path: Path, polling: bool
) -> None:
    stack = _stack(rng)
    finished = write_ndtiff_dataset(tmp_path / "finished", "acq", stack, CHANNELS, 0.248)
    root = tmp_path / "watched"
    root.mkdir()
    got: list[Frame] = []
    with watching(root, polling=polling) as watched:

        def after_frame(k: int, complete_entry: Callable[[], None]) -> None:
            watched.settle()
            assert watched.frames.empty(), f"image {k} taken before its index entry was complete"
            complete_entry()
            got.append(watched.next_frame())

        copy_ndtiff_live(finished, root / "acq_1", after_frame)
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()
    assert [f.key[:2] for f in got] == [(t, c) for t in range(3) for c in CHANNELS]
    for frame in got:
        _check(frame, stack, 248.0)
    # Timestamps keep the acquisition's spacing (ElapsedTime-ms: 100 ms per time point).
    np.testing.assert_allclose(np.diff([f.timestamp for f in got[::2]]), [0.1, 0.1], atol=1e-6)


def test_mmstack_acquired_while_watched_with_rollover(
    rng: np.random.Generator, tmp_path: Path, polling: bool
) -> None:
    stack = _stack(rng, frames=4)
    got: list[Frame] = []
    with watching(tmp_path, polling=polling) as watched:
        for name, times in (
            ("run_MMStack_Pos0.ome.tif", [0, 1]),
            ("run_MMStack_Pos0_1.ome.tif", [2, 3]),
        ):
            writer = MMStackWriter(tmp_path / name, (12, 16), CHANNELS, 4, pixel_size_um=0.1)
            for t in times:
                for c, channel in enumerate(CHANNELS):
                    meta = {
                        "Channel": channel,
                        "FrameIndex": t,
                        "PixelSizeUm": 0.1,
                        "ElapsedTime-ms": 250.0 * t,
                    }
                    parts = writer.parts(stack[t, c], t, c, meta)
                    writer.write(parts[:-1])  # all but the image's metadata, written last
                    watched.settle()
                    assert watched.frames.empty(), f"t={t} {channel} taken before complete"
                    writer.write(parts[-1:])
                    got.append(watched.next_frame())
            writer.finish()
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()
    assert [f.key[:2] for f in got] == [(t, c) for t in range(4) for c in CHANNELS]
    for frame in got:
        _check(frame, stack, 100.0)
    # Within each file, timestamps keep the acquisition's spacing (250 ms per time point).
    np.testing.assert_allclose(got[2].timestamp - got[0].timestamp, 0.25, atol=1e-6)
    np.testing.assert_allclose(got[6].timestamp - got[4].timestamp, 0.25, atol=1e-6)
    # An independent reader agrees on the layout: tifffile reads both files as one MMStack.
    with tifffile.TiffFile(tmp_path / "run_MMStack_Pos0.ome.tif") as tif:
        assert tif.is_mmstack
        np.testing.assert_array_equal(tif.series[0].asarray().reshape(stack.shape), stack)


def test_file_written_slowly_in_pieces_is_taken_once_complete(
    rng: np.random.Generator, tmp_path: Path, polling: bool
) -> None:
    image = rng.integers(0, 4096, size=(64, 64), dtype=np.uint16)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, resolution=(1e4 / 0.1, 1e4 / 0.1), resolutionunit="CENTIMETER")
    data = buffer.getvalue()
    cuts = [0, 8, len(data) // 3, 2 * len(data) // 3, len(data)]
    path = tmp_path / "slow.tif"
    with watching(tmp_path, polling=polling) as watched:
        for start, end in itertools.pairwise(cuts[:-1]):
            with path.open("ab") as fh:  # each piece opens and closes the file
                fh.write(data[start:end])
            watched.settle()
            seen = watched.source.incomplete_reads.get(path, 0)

            def looked_again(seen: int = seen) -> bool:
                return watched.source.incomplete_reads.get(path, 0) > seen

            watched.wait_until(looked_again)
            assert watched.frames.empty()
        with path.open("ab") as fh:
            fh.write(data[cuts[-2] :])
        frame = watched.next_frame()
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()
    np.testing.assert_array_equal(frame.image, image)
    assert frame.pixel_size_nm == pytest.approx(100.0)


def test_process_existing_takes_what_is_there_and_only_then(tmp_path: Path, polling: bool) -> None:
    def write(name: str, value: int) -> None:
        tifffile.imwrite(
            tmp_path / name,
            np.full((8, 8), value, np.uint16),
            resolution=(1e5, 1e5),
            resolutionunit="CENTIMETER",
        )

    write("t0_DAPI.tif", 1)
    mapper = {"pattern": r"t(?P<t>\d+)_(?P<c>\w+)\.tif$"}
    with watching(tmp_path, polling=polling, mapper=mapper, rescan_interval_s=0.01) as watched:
        write("t1_DAPI.tif", 2)
        assert watched.next_frame().key[:2] == (1, "DAPI")
        watched.settle()
        assert watched.frames.empty()  # already there: not taken, not even by the rescans
    with watching(tmp_path, polling=polling, mapper=mapper, process_existing=True) as watched:
        keys = {watched.next_frame().key[:2], watched.next_frame().key[:2]}
        assert keys == {(0, "DAPI"), (1, "DAPI")}


def test_frames_whose_events_never_come_are_found_by_the_rescan(tmp_path: Path) -> None:
    # A polling observer that looks once an hour stands in for any lost event (inotify queue
    # overflow, watch limit, a dead event thread): only the periodic rescan can see the file.
    mapper = {"pattern": r"t(?P<t>\d+)_(?P<c>\w+)\.tif$"}
    with watching(
        tmp_path, polling=True, poll_interval_s=3600.0, rescan_interval_s=0.05, mapper=mapper
    ) as watched:
        (tmp_path / "late").mkdir()
        image = np.arange(64, dtype=np.uint16).reshape(8, 8)
        tifffile.imwrite(
            tmp_path / "late" / "t4_DAPI.tif",
            image,
            resolution=(1e5, 1e5),
            resolutionunit="CENTIMETER",
        )
        frame = watched.next_frame()
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()
    assert frame.key[:2] == (4, "DAPI")
    assert frame.pixel_size_nm == pytest.approx(100.0)
    np.testing.assert_array_equal(frame.image, image)
