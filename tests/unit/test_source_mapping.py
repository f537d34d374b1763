"""Mapping file frames to (t, channel) and the per-frame checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tcan_live.core.acquisition import FrameKey
from tcan_live.core.frame_check import FrameRejected
from tcan_live.sources.files.file_frame import FileFrame
from tcan_live.sources.files.mapping import FrameMapper, compile_pattern

PATTERN = r"t(?P<t>\d+)_(?P<c>[A-Za-z0-9]+)\.tif$"


def _raw(
    image: np.ndarray | None = None,
    *,
    channel: str | None = None,
    t: int | None = None,
    pixel_size_nm: float | None = 100.0,
) -> FileFrame:
    pixels = np.zeros((4, 6), np.uint16) if image is None else image
    return FileFrame(image=pixels, t=t, channel=channel, pixel_size_nm=pixel_size_nm)


def test_filename_pattern_gives_t_and_channel_through_aliases() -> None:
    mapper = FrameMapper(origin_prefix="watch", pattern=PATTERN, channel_aliases={"C1": "actin"})
    frame = mapper.to_frame(_raw(), Path("/d/t0007_C1.tif"))
    assert frame.key[:2] == (7, "actin")
    assert frame.origin == "watch:/d/t0007_C1.tif"
    assert frame.pixel_size_nm == 100.0


def test_pattern_is_matched_on_the_relative_path() -> None:
    mapper = FrameMapper(origin_prefix="watch", pattern=r"(?P<c>\w+)/img_(?P<t>\d+)\.tif")
    frame = mapper.to_frame(_raw(), Path("/root/actin/img_3.tif"), "actin/img_3.tif")
    assert frame.key[:2] == (3, "actin")


def test_metadata_is_used_without_pattern_and_t_counts_otherwise() -> None:
    mapper = FrameMapper(origin_prefix="watch", default_channel="mt")
    assert mapper.to_frame(_raw(t=4, channel="DAPI"), Path("a.tif")).key[:2] == (4, "DAPI")
    assert mapper.to_frame(_raw(), Path("b.tif")).key[:2] == (0, "mt")
    assert mapper.to_frame(_raw(), Path("c.tif")).key[:2] == (1, "mt")


def test_pattern_requires_an_index_group() -> None:
    with pytest.raises(ValueError, match="named group for an index"):
        compile_pattern(r"(?P<c>\w+)")


def test_pattern_gives_position_slice_and_tile() -> None:
    pattern = r"(?P<p>\d+)/t(?P<t>\d+)_g(?P<g>\d+)_z(?P<z>\d+)_(?P<c>\w+)\.tif$"
    mapper = FrameMapper(origin_prefix="watch", pattern=pattern)
    frame = mapper.to_frame(_raw(), Path("/r/2/t5_g1_z3_actin.tif"), "2/t5_g1_z3_actin.tif")
    assert frame.key == (5, "actin", 3, 2, 1, 0)
    assert (frame.z, frame.position.index, frame.position.grid) == (3, 2, 1)


def test_a_z_stack_named_by_slices_alone_counts_t_per_slice() -> None:
    mapper = FrameMapper(origin_prefix="watch", pattern=r"z(?P<z>\d+)\.tif$", default_channel="mt")
    keys = [mapper.to_frame(_raw(), Path(f"/r/{n}/z{z}.tif")).key for n in range(2) for z in (0, 1)]
    assert [(key.t, key.z) for key in keys] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_metadata_indices_are_used_when_the_pattern_has_none() -> None:
    mapper = FrameMapper(origin_prefix="watch")
    raw = FileFrame(
        image=np.zeros((4, 6), np.uint16), t=2, channel="a", pixel_size_nm=100.0, z=4, p=1
    )
    assert mapper.to_frame(raw, Path("x.tif")).key == (2, "a", 4, 1, 0, 0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            _raw(np.zeros((4, 6), np.int32)),
            "unexpected dtype int32: expected one of uint8, uint16, float32",
        ),
        (_raw(np.zeros((4, 6, 3), np.uint8)), r"unexpected shape \(4, 6, 3\): expected a 2D"),
        (_raw(np.full((4, 6), np.nan, np.float32)), "24 NaN/inf pixels: expected finite values"),
        (_raw(channel="Cy5"), r"unknown channel 'Cy5': expected one of \['DAPI', 'FITC'\]"),
        (_raw(pixel_size_nm=None), "no pixel size in the file's metadata: expected one"),
        (_raw(pixel_size_nm=352777.8), "absurd pixel size 352778 nm from the file's metadata"),
    ],
)
def test_bad_frames_say_what_was_expected(raw: FileFrame, message: str) -> None:
    mapper = FrameMapper(origin_prefix="watch", channels=["DAPI", "FITC"], default_channel="DAPI")
    with pytest.raises(FrameRejected, match=message):
        mapper.to_frame(raw, Path("x.tif"))


def test_shape_must_match_earlier_frames_of_the_channel() -> None:
    mapper = FrameMapper(origin_prefix="watch")
    mapper.to_frame(_raw(np.zeros((4, 6), np.uint16)), Path("a.tif"))
    with pytest.raises(FrameRejected, match=r"unexpected shape \(5, 6\): expected \(4, 6\)"):
        mapper.to_frame(_raw(np.zeros((5, 6), np.uint16)), Path("b.tif"))


def test_pixel_size_override_replaces_missing_metadata() -> None:
    mapper = FrameMapper(origin_prefix="watch", pixel_size_nm=80.0)
    assert mapper.to_frame(_raw(pixel_size_nm=None), Path("a.tif")).pixel_size_nm == 80.0


def test_file_name_not_matching_the_pattern_is_reported() -> None:
    mapper = FrameMapper(origin_prefix="watch", pattern=PATTERN)
    with pytest.raises(FrameRejected, match="does not match pattern"):
        mapper.to_frame(_raw(), Path("snapshot.tif"))


def test_keys_planned_without_pixels_match_the_frames_read_later() -> None:
    # tcan-live batch keys a whole dataset from metadata, then reads each frame elsewhere.
    planner = FrameMapper(origin_prefix="batch", pattern=PATTERN, channel_aliases={"C1": "actin"})
    no_pixels = np.zeros((0, 0), np.uint16)

    def described(t: int | None = None, channel: str | None = None, **more: int) -> FileFrame:
        return FileFrame(image=no_pixels, t=t, channel=channel, **more)  # type: ignore[arg-type]

    assert planner.key_of(described(), Path("/d/t0002_C1.tif")) == FrameKey(2, "actin")
    numbered = FrameMapper(origin_prefix="batch")
    keys = [numbered.key_of(described(channel="a"), Path(f"/d/{n}.tif")) for n in range(3)]
    assert keys == [FrameKey(t, "a") for t in range(3)]  # numbered in the order asked
    assert numbered.key_of(described(7), Path("/d/x.tif")) == FrameKey(7, "default")
    assert numbered.key_of(described(1, "a", z=3, p=2), Path("/d/y.tif")) == FrameKey(1, "a", 3, 2)
    reader = FrameMapper(origin_prefix="batch", pattern=PATTERN, channel_aliases={"C1": "actin"})
    path = Path("/d/t0002_C1.tif")
    planned = reader.frame_for(_raw(), path, FrameKey(2, "actin"))
    read = reader.to_frame(_raw(), path)
    assert (planned.key, planned.origin, planned.pixel_size_nm) == (read.key, read.origin, 100.0)
    np.testing.assert_array_equal(planned.image, read.image)
    with pytest.raises(FrameRejected, match="unexpected shape"):
        reader.frame_for(_raw(np.zeros((4,), np.uint16)), path, FrameKey(3, "actin"))
    with pytest.raises(FrameRejected, match="does not match pattern"):
        planner.key_of(described(), Path("/d/other.tif"))
