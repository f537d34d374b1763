"""Bad input in the watched folder: one clear line per problem, and the watcher keeps going."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from tcan_live.frames import Frame
from tcan_live.sources.mapping import FrameMapper
from tcan_live.sources.watch import WatchFolderSource
from tests.helpers.watching import watching

PATTERN = r"t(?P<t>\d+)_(?P<c>\w+?)(_.*)?\.tif$"
MAPPER: dict[str, Any] = {"pattern": PATTERN, "channels": ["DAPI", "FITC"]}
UM_PER_CM = 1e4


def _tiff(path: Path, image: np.ndarray, pixel_size_um: float | None = 0.1) -> None:
    options: dict[str, Any] = {}
    if pixel_size_um is not None:
        per_cm = UM_PER_CM / pixel_size_um
        options = {"resolution": (per_cm, per_cm), "resolutionunit": "CENTIMETER"}
    photometric = "rgb" if image.ndim == 3 else "minisblack"
    tifffile.imwrite(path, image, photometric=photometric, **options)


def _tiff_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, resolution=(1e5, 1e5), resolutionunit="CENTIMETER")
    return buffer.getvalue()


def _bad_files(root: Path, outside: Path) -> dict[str, str]:
    """Write one file per fault; returns file name -> expected part of its message."""
    good = np.ones((8, 8), np.uint16)
    (root / "t0_DAPI_truncated.tif").write_bytes(_tiff_bytes(good)[:-40])
    (root / "t0_DAPI_garbage.tif").write_bytes(b"\x00not a tiff" * 64)
    _tiff(root / "t1_DAPI_int32.tif", good.astype(np.int32))
    _tiff(root / "t2_DAPI_rgb.tif", np.ones((8, 8, 3), np.uint8))
    _tiff(root / "t3_DAPI_nan.tif", np.full((8, 8), np.nan, np.float32))
    _tiff(root / "t4_Cy5.tif", good)
    _tiff(root / "t5_DAPI_nopixelsize.tif", good, pixel_size_um=None)
    _tiff(root / "t6_DAPI_72dpi.tif", good, pixel_size_um=25400 / 72)
    _tiff(root / "t7_DAPI_shape.tif", np.ones((9, 8), np.uint16))
    _tiff(outside / "t8_DAPI.tif", good)
    os.symlink(outside / "t8_DAPI.tif", root / "t8_DAPI_link.tif")
    _tiff(root / "t0_DAPI_a_first.tif", good)  # first: fixes the shape of channel DAPI
    _tiff(root / "t0_DAPI_b_again.tif", good)
    # Ignored without a word: hidden and temporary files.
    _tiff(root / ".t9_DAPI.tif", good)
    _tiff(root / "t9_DAPI.tif.part", good)
    return {
        "t0_DAPI_truncated.tif": "truncated or corrupt TIFF, expected a complete image",
        "t0_DAPI_garbage.tif": "truncated or corrupt TIFF, expected a complete image",
        "t1_DAPI_int32.tif": "unexpected dtype int32: expected one of uint8, uint16, float32",
        "t2_DAPI_rgb.tif": "expected one 2D frame per file, got shape (8, 8, 3)",
        "t3_DAPI_nan.tif": "64 NaN/inf pixels: expected finite values",
        "t4_Cy5.tif": "unknown channel 'Cy5': expected one of ['DAPI', 'FITC']",
        "t5_DAPI_nopixelsize.tif": "no pixel size in the file's metadata: expected one",
        "t6_DAPI_72dpi.tif": "absurd pixel size 352778 nm",
        "t7_DAPI_shape.tif": "unexpected shape (9, 8): expected (8, 8)",
        "t8_DAPI_link.tif": "outside the watched root",
        "t0_DAPI_b_again.tif": "duplicate frame t=0 channel 'DAPI', already taken from",
    }


def test_run_once_reports_each_bad_file_in_one_line(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    expected = _bad_files(root, outside)
    errors: list[tuple[Path, str]] = []
    source = WatchFolderSource(
        root,
        FrameMapper(origin_prefix="watch", **MAPPER),
        on_error=lambda p, m: errors.append((p, m)),
    )
    frames: list[Frame] = []
    assert source.run_once(frames.append) == 1
    assert [f.origin for f in frames] == [f"watch:{root / 't0_DAPI_a_first.tif'}"]
    by_name = {path.name: message for path, message in errors}
    assert sorted(by_name) == sorted(expected), by_name
    for name, message in by_name.items():
        assert expected[name] in message
        assert str(root / name) in message and "\n" not in message


def test_live_watcher_survives_faults_and_keeps_delivering(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    with watching(root, polling=False, mapper=MAPPER, give_up_after_s=0.3) as watched:
        _tiff(root / "t0_DAPI_a_first.tif", np.ones((8, 8), np.uint16))
        assert watched.next_frame().key == (0, "DAPI")
        expected = _bad_files(root, outside)
        messages = [watched.next_error() for _ in expected]
        for name, part in expected.items():
            assert any(name in m and part in m for m in messages), (name, messages)
        _tiff(root / "t1_FITC.tif", np.ones((8, 8), np.uint16))
        assert watched.next_frame().key == (1, "FITC")
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()


@pytest.mark.parametrize("polling", [False, True])
def test_file_that_disappears_before_it_is_read(tmp_path: Path, polling: bool) -> None:
    path = tmp_path / "t0_DAPI.tif"
    with watching(tmp_path, polling=polling, mapper=MAPPER) as watched:
        path.write_bytes(_tiff_bytes(np.ones((8, 8), np.uint16))[:-40])  # never completes
        watched.wait_until(lambda: watched.source.is_pending(path))
        path.unlink()
        message = watched.next_error()
    assert message == f"{path}: disappeared before it could be read"


def test_already_processed_keys_are_skipped_silently(tmp_path: Path) -> None:
    _tiff(tmp_path / "t0_DAPI.tif", np.ones((8, 8), np.uint16))
    _tiff(tmp_path / "t1_DAPI.tif", np.ones((8, 8), np.uint16))
    errors: list[str] = []
    source = WatchFolderSource(
        tmp_path,
        FrameMapper(origin_prefix="watch", **MAPPER),
        skip_keys=[(0, "DAPI")],
        on_error=lambda p, m: errors.append(m),
    )
    frames: list[Frame] = []
    source.run_once(frames.append)
    assert [f.key for f in frames] == [(1, "DAPI")] and errors == []
    assert source.run_once(frames.append) == 0  # taken files are never read again


def test_start_refuses_a_missing_root(tmp_path: Path) -> None:
    source = WatchFolderSource(tmp_path / "missing", FrameMapper(origin_prefix="watch"))
    with pytest.raises(FileNotFoundError, match="expected an existing folder"):
        source.start(lambda frame: None)
