"""Bad input in the watched folder: one clear line per problem, and the watcher keeps going."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tcan_live.core.acquisition import Frame, FrameKey
from tcan_live.sources.files.mapping import FrameMapper
from tcan_live.sources.watch import WatchFolderSource
from tests.helpers.bad_files import MAPPER, tiff_bytes, write_bad_files, write_tiff_um
from tests.helpers.watching import watching


def test_run_once_reports_each_bad_file_in_one_line(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    expected = write_bad_files(root, outside)
    errors: list[str] = []
    source = WatchFolderSource(
        root, FrameMapper(origin_prefix="watch", **MAPPER), on_error=errors.append
    )
    frames: list[Frame] = []
    assert source.run_once(frames.append) == 1
    assert [f.origin for f in frames] == [f"watch:{root / 't0_DAPI_a_first.tif'}"]
    # Each message starts with the file it is about.
    by_name = {Path(message.split(":")[0]).name: message for message in errors}
    assert sorted(by_name) == sorted(expected), by_name
    for name, message in by_name.items():
        assert expected[name] in message
        assert str(root / name) in message and "\n" not in message


def test_live_watcher_survives_faults_and_keeps_delivering(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    with watching(root, polling=False, mapper=MAPPER, give_up_after_s=0.3) as watched:
        write_tiff_um(root / "t0_DAPI_a_first.tif", np.ones((8, 8), np.uint16))
        assert watched.next_frame().key[:2] == (0, "DAPI")
        expected = write_bad_files(root, outside)
        messages = [watched.next_error() for _ in expected]
        for name, part in expected.items():
            assert any(name in m and part in m for m in messages), (name, messages)
        write_tiff_um(root / "t1_FITC.tif", np.ones((8, 8), np.uint16))
        assert watched.next_frame().key[:2] == (1, "FITC")
        watched.settle()
        assert watched.frames.empty() and watched.errors.empty()


@pytest.mark.parametrize("polling", [False, True])
def test_file_that_disappears_before_it_is_read(tmp_path: Path, polling: bool) -> None:
    path = tmp_path / "t0_DAPI.tif"
    with watching(tmp_path, polling=polling, mapper=MAPPER) as watched:
        path.write_bytes(tiff_bytes(np.ones((8, 8), np.uint16))[:-40])  # never completes
        watched.wait_until(lambda: watched.source.is_pending(path))
        path.unlink()
        message = watched.next_error()
    assert message == f"{path}: disappeared before it could be read"


def test_already_processed_keys_are_skipped_silently(tmp_path: Path) -> None:
    write_tiff_um(tmp_path / "t0_DAPI.tif", np.ones((8, 8), np.uint16))
    write_tiff_um(tmp_path / "t1_DAPI.tif", np.ones((8, 8), np.uint16))
    errors: list[str] = []
    source = WatchFolderSource(
        tmp_path,
        FrameMapper(origin_prefix="watch", **MAPPER),
        skip_keys=[FrameKey(0, "DAPI")],
        on_error=errors.append,
    )
    frames: list[Frame] = []
    source.run_once(frames.append)
    assert [f.key[:2] for f in frames] == [(1, "DAPI")] and errors == []
    assert source.run_once(frames.append) == 0  # taken files are never read again


def test_start_refuses_a_missing_root(tmp_path: Path) -> None:
    source = WatchFolderSource(tmp_path / "missing", FrameMapper(origin_prefix="watch"))
    with pytest.raises(FileNotFoundError, match="expected an existing folder"):
        source.start(lambda frame: None)
