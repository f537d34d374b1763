"""Datasets as tcan-live batch plans and reads them: every kind, written by real writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from tcan_live.batch.datasets import DatasetError, open_dataset, read_frame
from tcan_live.core.acquisition import (
    AcquisitionLayout,
    ChannelInfo,
    EnhanceResult,
    Frame,
    FrameKey,
    Position,
)
from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink
from tcan_live.sources.files.mapping import FrameMapper
from tests.helpers.batch import filament_stack, write_ome_zarr
from tests.helpers.mm_files import NDSTORAGE_UNCLOSED_READER, MMStackWriter, write_ndtiff_dataset

CHANNELS = ("microtubules", "actin")


def mapper(**options: object) -> FrameMapper:
    return FrameMapper(origin_prefix="batch", **options)  # type: ignore[arg-type]


def planned_index(path: Path, **options: object) -> dict[FrameKey, Frame]:
    """Plan ``path``, then read every frame with a fresh mapper (as a worker does)."""
    dataset = open_dataset(path)
    plan = dataset.plan(mapper(**options))
    return {ref.key: read_frame(dataset, ref, mapper(**options)) for ref in plan.frames}


def planned_frames(path: Path, **options: object) -> dict[tuple[int, str], Frame]:
    """:func:`planned_index` of a t x c dataset, keyed by (t, channel)."""
    frames = planned_index(path, **options)
    assert all(key[2:] == (0, 0, 0, 0) for key in frames), "expected a t x c dataset"
    return {(key.t, key.channel): frame for key, frame in frames.items()}


def two_channel_stack(frames: int = 3) -> np.ndarray:
    stack = filament_stack(frames * 2, (24, 32)).reshape(frames, 2, 24, 32)
    return stack


def test_tiff_stack_planes_are_what_infer_reads(tmp_path: Path) -> None:
    stack = filament_stack(5, (24, 32))
    path = write_tiff(tmp_path / "cell.ome.tif", stack[:, None], 100.0)
    frames = planned_frames(path)
    expected, _ = read_tiff_stack(path)
    assert list(frames) == [(t, "default") for t in range(5)]
    for t, frame in enumerate(frames.values()):
        np.testing.assert_array_equal(frame.image, expected[t])
        assert frame.pixel_size_nm == pytest.approx(100.0)
        assert frame.origin == f"batch:{path}#{t}"


def test_tiff_folder_sorted_or_by_pattern(tmp_path: Path) -> None:
    stack = two_channel_stack()
    for t in range(3):
        for c, name in enumerate(CHANNELS):
            write_tiff(tmp_path / f"{name}_t{t:03d}.tif", stack[t, c], 100.0)
    pattern = r"(?P<c>[a-z]+)_t(?P<t>\d+)\.tif$"
    frames = planned_frames(tmp_path, pattern=pattern)
    assert sorted(frames) == sorted((t, c) for t in range(3) for c in CHANNELS)
    for (t, channel), frame in frames.items():
        np.testing.assert_array_equal(frame.image, stack[t, CHANNELS.index(channel)])
    # Without a pattern the sorted files are the time points of one channel.
    sequence = planned_frames(tmp_path, default_channel="cells")
    assert list(sequence) == [(t, "cells") for t in range(6)]
    np.testing.assert_array_equal(sequence[(3, "cells")].image, stack[0, 0])  # microtubules_t000
    with pytest.raises(DatasetError, match=r"does not match pattern"):
        open_dataset(tmp_path).plan(mapper(pattern=r"(?P<t>\d+)_nope"))


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_ndtiff_dataset_by_its_index(tmp_path: Path) -> None:
    stack = two_channel_stack()
    folder = write_ndtiff_dataset(tmp_path, "run", stack, CHANNELS, pixel_size_um=0.1)
    frames = planned_frames(folder)
    assert sorted(frames) == sorted((t, c) for t in range(3) for c in CHANNELS)
    for (t, channel), frame in frames.items():
        np.testing.assert_array_equal(frame.image, stack[t, CHANNELS.index(channel)])
        assert frame.pixel_size_nm == pytest.approx(100.0)
    assert open_dataset(folder / "NDTiff.index").kind == "ndtiff"


@pytest.mark.filterwarnings(NDSTORAGE_UNCLOSED_READER)
def test_ndtiff_with_positions_and_slices_keeps_every_index(tmp_path: Path) -> None:
    stack = filament_stack(2 * 2 * 2 * 3, (24, 32)).reshape(2, 2, 2, 3, 24, 32)  # P, T, C, Z
    folder = write_ndtiff_dataset(tmp_path, "multi", stack, CHANNELS, pixel_size_um=0.1)
    frames = planned_index(folder)
    assert len(frames) == stack[..., 0, 0].size
    for key, frame in frames.items():
        c = CHANNELS.index(key.channel)
        np.testing.assert_array_equal(frame.image, stack[key.p, key.t, c, key.z])


def test_mmstack_file_by_its_index_map(tmp_path: Path) -> None:
    stack = two_channel_stack()
    path = tmp_path / "run_MMStack_Pos0.ome.tif"
    writer = MMStackWriter(path, (24, 32), CHANNELS, frames=3, pixel_size_um=0.1)
    for t in range(3):
        for c, name in enumerate(CHANNELS):
            writer.write(writer.parts(stack[t, c], t, c, {"Channel": name}))
    writer.finish()
    with tifffile.TiffFile(path) as tif:  # an independent reader sees an MMStack file
        assert tif.is_mmstack
    for dataset in (path, tmp_path):
        frames = planned_frames(dataset, channel_aliases={"actin": "actin-cy5"})
        assert sorted(frames) == sorted(
            (t, c) for t in range(3) for c in ("microtubules", "actin-cy5")
        )
        np.testing.assert_array_equal(frames[(2, "actin-cy5")].image, stack[2, 1])


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_image_with_its_physical_scales(tmp_path: Path, version: str) -> None:
    stack = two_channel_stack()
    store = write_ome_zarr(tmp_path / "cells.zarr", stack, CHANNELS, 0.1, version=version)
    dataset = open_dataset(store)
    plan = dataset.plan(mapper())
    assert plan.channels == CHANNELS and plan.time_increment_s == pytest.approx(2.0)
    frames = planned_frames(store)
    assert len(frames) == 6
    for (t, channel), frame in frames.items():
        np.testing.assert_array_equal(frame.image, stack[t, CHANNELS.index(channel)])
        assert frame.pixel_size_nm == pytest.approx(100.0)


def test_tcan_live_store_stands_for_its_raw_frames(tmp_path: Path) -> None:
    layout = AcquisitionLayout(
        channels=(ChannelInfo("microtubules", "FF00FF"),),
        raw_shape=(24, 32),
        raw_pixel_size_nm=100.0,
        sr_shape=(48, 64),
        sr_pixel_size_nm=50.0,
        raw_dtype="uint16",
    )
    stack = filament_stack(4, (24, 32))
    for include_raw in (True, False):
        store = tmp_path / f"run-{include_raw}.zarr"
        sink = OmeZarrSink(OutputConfig(path=store, include_raw=include_raw, fsync=False))
        sink.setup(layout)
        for t in (0, 1, 3):  # t = 2 never arrived: its chunk was never written
            frame = Frame(stack[t], t, "microtubules", 100.0, 0.0, f"test#{t}")
            sink.append(frame, EnhanceResult(np.zeros((48, 64), np.float32), 50.0), {})
        sink.close()
    frames = planned_frames(tmp_path / "run-True.zarr")
    assert sorted(frames) == [(0, "microtubules"), (1, "microtubules"), (3, "microtubules")]
    np.testing.assert_array_equal(frames[(3, "microtubules")].image, stack[3])
    assert open_dataset(tmp_path / "run-True.zarr").plan(mapper()).left_out == 1
    with pytest.raises(DatasetError, match="without raw frames"):
        open_dataset(tmp_path / "run-False.zarr").plan(mapper())


def test_a_tcan_live_store_of_positions_and_slices_gives_each_image(tmp_path: Path) -> None:
    layout = AcquisitionLayout(
        channels=(ChannelInfo("microtubules", "FF00FF"),),
        raw_shape=(24, 32),
        raw_pixel_size_nm=100.0,
        sr_shape=(24, 32),
        sr_pixel_size_nm=100.0,
        raw_dtype="uint16",
    )
    stack = filament_stack(2 * 2 * 3, (24, 32)).reshape(2, 2, 3, 24, 32)  # P, T, Z
    store = tmp_path / "multi.zarr"
    sink = OmeZarrSink(OutputConfig(path=store, fsync=False))
    sink.setup(layout)
    for p, t, z in np.ndindex(2, 2, 3):
        position = Position(index=p, name=f"site-{p}", stage_um=(100.0 * p, 0.0, 0.0))
        frame = Frame(stack[p, t, z], t, "microtubules", 100.0, 0.0, "test", z=z, position=position)
        sink.append(frame, EnhanceResult(np.zeros((24, 32), np.float32), 100.0), {})
    sink.close()
    frames = planned_index(store)
    assert sorted(frames) == sorted(
        FrameKey(t, "microtubules", z, p) for p, t, z in np.ndindex(2, 2, 3)
    )
    for key, frame in frames.items():
        np.testing.assert_array_equal(frame.image, stack[key.p, key.t, key.z])
        assert frame.position.name == f"site-{key.p}"


def test_frames_fail_the_daemons_checks_on_the_worker(tmp_path: Path) -> None:
    stack = filament_stack(2, (24, 32)).astype(np.float32)
    stack[1, 3, 4] = np.nan
    path = write_tiff(tmp_path / "nan.tif", stack[:, None], 100.0)
    dataset = open_dataset(path)
    plan = dataset.plan(mapper())
    assert read_frame(dataset, plan.frames[0], mapper()).image.dtype == np.float32
    with pytest.raises(FrameRejected, match="1 NaN/inf pixels: expected finite values"):
        read_frame(dataset, plan.frames[1], mapper())
    huge = open_dataset(write_tiff(tmp_path / "huge.tif", stack[:1, None], 5e6))
    with pytest.raises(FrameRejected, match=r"absurd pixel size 5e\+06 nm"):
        read_frame(huge, huge.plan(mapper()).frames[0], mapper())
    # The pixel size comes from the file unless overridden, and is checked either way.
    tifffile.imwrite(tmp_path / "plain.tif", stack[:1].astype(np.uint16))
    plain = open_dataset(tmp_path / "plain.tif")
    with pytest.raises(FrameRejected, match="no pixel size in the file's metadata"):
        read_frame(plain, plain.plan(mapper()).frames[0], mapper())
    assert read_frame(plain, plain.plan(mapper()).frames[0], mapper(pixel_size_nm=80.0))


def test_unusable_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        open_dataset(tmp_path / "missing.zarr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no OME-Zarr image, NDTiff dataset"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="expected an OME-Zarr store"):
        open_dataset(tmp_path / "notes.txt")
    planes = filament_stack(6, (16, 16)).reshape(2, 1, 3, 16, 16)  # (T, C, Z, Y, X)
    zstack = write_ome_zarr(tmp_path / "z.zarr", planes, ["cells"], 0.1)
    z_frames = planned_index(zstack)  # an NGFF z-stack: every slice its own frame
    assert sorted(z_frames) == sorted(FrameKey(t, "cells", z) for t in range(2) for z in range(3))
    np.testing.assert_array_equal(z_frames[FrameKey(1, "cells", 2)].image, planes[1, 0, 2])
    folder = tmp_path / "pairs"
    folder.mkdir()
    for name in ("a_t1.tif", "b_t1.tif"):
        write_tiff(folder / name, filament_stack(1, (16, 16))[0], 100.0)
    with pytest.raises(DatasetError, match=r"two frames at t=1 channel 'default'"):
        open_dataset(folder).plan(mapper(pattern=r"_t(?P<t>\d+)"))
