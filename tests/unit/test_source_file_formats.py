"""Reading single-frame TIFFs, NDTiff index entries and MMStack images as they are written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from tcan_live.core.frame_check import FrameRejected
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.files.mmstack import MMStackReader
from tcan_live.sources.files.ndtiff_dataset import parse_index
from tcan_live.sources.files.single_tiff import read_tiff_planes
from tests.helpers.mm_files import MMStackWriter


def test_pixel_size_from_resolution_tags(tmp_path: Path) -> None:
    path = tmp_path / "a.tif"
    image = np.arange(64, dtype=np.uint16).reshape(8, 8)
    tifffile.imwrite(
        path, image, resolution=(1e4 / 0.248, 1e4 / 0.248), resolutionunit="CENTIMETER"
    )
    (raw,) = read_tiff_planes(path)
    np.testing.assert_array_equal(raw.image, image)
    assert raw.pixel_size_nm == pytest.approx(248.0)


def test_ome_tiff_gives_pixel_size_channel_and_time(tmp_path: Path) -> None:
    path = tmp_path / "a.ome.tif"
    metadata = {
        "axes": "YX",
        "PhysicalSizeX": 65.0,
        "PhysicalSizeXUnit": "nm",
        "Channel": {"Name": "actin"},
    }
    tifffile.imwrite(path, np.ones((8, 8), np.uint16), ome=True, metadata=metadata)
    (raw,) = read_tiff_planes(path)
    assert raw.pixel_size_nm == pytest.approx(65.0)
    assert raw.channel == "actin"


def test_plain_tiff_without_resolution_has_no_pixel_size(tmp_path: Path) -> None:
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.ones((8, 8), np.float32))
    assert read_tiff_planes(path)[0].pixel_size_nm is None


def test_truncated_and_garbage_files_are_incomplete(tmp_path: Path) -> None:
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, np.ones((64, 64), np.uint16))
    data = full.read_bytes()
    for cut in (4, len(data) // 2, len(data) - 1):
        part = tmp_path / f"cut{cut}.tif"
        part.write_bytes(data[:cut])
        with pytest.raises(IncompleteFileError):
            read_tiff_planes(part)
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"this is not a tiff" * 100)
    with pytest.raises(IncompleteFileError):
        read_tiff_planes(garbage)


def test_a_plain_multi_page_file_is_refused_its_axis_unknown(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.ones((3, 8, 8), np.uint16), photometric="minisblack")
    with pytest.raises(FrameRejected, match=r"axis 'Q' of length 3 .*expected one 2D frame"):
        read_tiff_planes(path)


def test_an_rgb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, np.ones((8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(FrameRejected, match=r"single-channel planes.*axes YXS"):
        read_tiff_planes(path)


def test_an_imagej_hyperstack_gives_every_plane_with_its_indices(tmp_path: Path) -> None:
    path = tmp_path / "hyper.tif"
    stack = np.arange(2 * 3 * 2 * 4 * 5, dtype=np.uint16).reshape(2, 3, 2, 4, 5)  # TZCYX
    metadata = {"axes": "TZCYX", "spacing": 0.4, "unit": "um"}
    tifffile.imwrite(path, stack, imagej=True, resolution=(10.0, 10.0), metadata=metadata)
    frames = read_tiff_planes(path)
    assert len(frames) == 12
    for frame in frames:
        assert frame.t is not None and frame.z is not None and frame.channel is not None
        np.testing.assert_array_equal(frame.image, stack[frame.t, frame.z, int(frame.channel)])
        assert frame.z_step_nm == pytest.approx(400.0)
        assert frame.pixel_size_nm == pytest.approx(100.0)
        assert frame.p is None and frame.pattern_applies
    assert [frame.where for frame in frames[:3]] == ["#t0,z0,c0", "#t0,z0,c1", "#t0,z1,c0"]


def test_an_ome_tiff_with_two_positions_names_positions_and_channels(tmp_path: Path) -> None:
    path = tmp_path / "two.ome.tif"
    stack = np.arange(2 * 2 * 3 * 4 * 5, dtype=np.uint16).reshape(2, 2, 3, 4, 5)  # P, C, Z, Y, X
    with tifffile.TiffWriter(path, ome=True) as writer:
        for p in range(2):
            metadata = {
                "axes": "CZYX",
                "Name": f"well-{p}",
                "PhysicalSizeX": 0.05,
                "PhysicalSizeZ": 0.3,
                "Channel": {"Name": ["actin", "tubulin"]},
            }
            writer.write(stack[p], photometric="minisblack", metadata=metadata)
    frames = read_tiff_planes(path)
    assert len(frames) == 12
    for frame in frames:
        assert frame.channel is not None and frame.p is not None and frame.z is not None
        c = ["actin", "tubulin"].index(frame.channel)
        np.testing.assert_array_equal(frame.image, stack[frame.p, c, frame.z])
        assert frame.position_name == f"well-{frame.p}" and frame.t == 0
        assert frame.z_step_nm == pytest.approx(300.0)
    assert {frame.p for frame in frames} == {0, 1}


def test_ndtiff_index_entries_count_only_when_complete() -> None:
    import json
    import struct

    axes = json.dumps({"time": 2, "channel": "DAPI"}).encode()
    name = b"run_NDTiffStack.tif"
    entry = struct.pack("<I", len(axes)) + axes + struct.pack("<I", len(name)) + name
    entry += struct.pack("<8I", 1000, 16, 8, 1, 0, 1256, 40, 0)
    for cut in range(len(entry)):
        assert parse_index(entry[:cut]) == ([], 0)
    (parsed,), consumed = parse_index(entry + bytes(64))  # the zero pre-sizing is not an entry
    assert consumed == len(entry)
    assert parsed.axes == {"time": 2, "channel": "DAPI"} and parsed.width == 16


def test_mmstack_image_is_taken_only_once_its_metadata_is_written(tmp_path: Path) -> None:
    stack = np.arange(2 * 2 * 6 * 8, dtype=np.uint16).reshape(2, 2, 6, 8)
    writer = MMStackWriter(tmp_path / "r_MMStack_Pos0.ome.tif", (6, 8), ["DAPI", "FITC"], 2, 0.1)
    reader = MMStackReader(writer.path)
    seen: list[FileFrame] = []
    for t in range(2):
        for c in range(2):
            parts = writer.parts(
                stack[t, c], t, c, {"Channel": ["DAPI", "FITC"][c], "PixelSizeUm": 0.1}
            )
            for k in range(1, len(parts)):  # index entry, IFD, pixels, resolution: not yet
                writer.write(parts[k - 1 : k])
                assert reader.poll() == []
            writer.write(parts[-1:])
            (raw,) = reader.poll()
            assert isinstance(raw, FileFrame)
            seen.append(raw)
    assert [(r.t, r.channel) for r in seen] == [(0, "DAPI"), (0, "FITC"), (1, "DAPI"), (1, "FITC")]
    for raw in seen:
        assert raw.t is not None and raw.channel is not None
        np.testing.assert_array_equal(raw.image, stack[raw.t, ["DAPI", "FITC"].index(raw.channel)])
        assert raw.pixel_size_nm == pytest.approx(100.0)


def test_mmstack_file_before_its_header_is_written_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "r_MMStack_Pos0.ome.tif"
    path.write_bytes(bytes(4096))  # created and pre-allocated, nothing written yet
    with pytest.raises(IncompleteFileError):
        MMStackReader(path).poll()
    path.write_bytes(b"II*\0" + bytes(4092))
    with pytest.raises(IncompleteFileError):
        MMStackReader(path).poll()
    path.write_bytes(b"II*\0" + b"\1" * 4092)
    with pytest.raises(FrameRejected, match="expected a Micro-Manager MMStack file"):
        MMStackReader(path).poll()
