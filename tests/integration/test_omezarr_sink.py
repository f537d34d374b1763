"""The OME-Zarr sink, read back with ome-zarr-py and validated with ome-zarr-models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
from ome_zarr_models import open_ome_zarr
from ome_zarr_models.v05.bioformats2raw import BioFormats2Raw
from ome_zarr_models.v05.image import Image

from tcan_live.core.acquisition import ChannelInfo, FrameKey
from tcan_live.core.safe_paths import UnsafePathError
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink, write_sr_chunk
from tcan_live.sinks.store_layout import LayoutMismatchError, open_raw, open_sr, rejected_dir
from tcan_live.sinks.store_lock import LOCK_NAME
from tests.integration.omezarr_helpers import CHANNELS, enhance, layout, raw_frame


def open_sink(path: Path, include_raw: bool = True, **changes: object) -> OmeZarrSink:
    sink = OmeZarrSink(OutputConfig(path=path, include_raw=include_raw))
    sink.setup(dataclasses.replace(layout(), **changes))  # type: ignore[arg-type]
    return sink


def write_complete(sink: OmeZarrSink, time_points: int) -> None:
    for t in range(time_points):
        for channel in CHANNELS:
            frame = raw_frame(t, channel)
            sink.store_raw(frame)
            sink.append(frame, enhance(frame), {"input_mean": float(frame.image.mean())})


def read_image(path: Path) -> tuple[np.ndarray, dict[str, object]]:
    nodes = list(Reader(parse_url(str(path)))())
    assert nodes, f"ome-zarr-py found no image at {path}"
    return np.asarray(nodes[0].data[0]), nodes[0].metadata


def test_frames_read_back_with_ome_zarr_py_and_validate(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    sink = open_sink(out)
    write_complete(sink, 3)
    sink.close()

    sr, sr_meta = read_image(out / "sr" / "0")
    raw, raw_meta = read_image(out / "raw" / "0")
    assert sr.shape == (3, 2, 1, 48, 64) and sr.dtype == np.float32
    assert raw.shape == (3, 2, 1, 24, 32) and raw.dtype == np.uint16
    for meta, pixel_um in ((sr_meta, 0.05), (raw_meta, 0.1)):
        axes = meta["axes"]
        assert [axis["name"] for axis in axes] == ["t", "c", "z", "y", "x"]  # type: ignore[attr-defined]
        assert [axis.get("unit") for axis in axes] == [  # type: ignore[attr-defined]
            "second",
            None,
            None,  # no z step known: scale 1, no unit
            "micrometer",
            "micrometer",
        ]
        assert meta["coordinateTransformations"] == [
            [{"type": "scale", "scale": [20.0, 1.0, 1.0, pixel_um, pixel_um]}]
        ]
        assert meta["channel_names"] == ["microtubules", "actin"]
        assert meta["colormap"] == [[[0, 0, 0], [1, 0, 1]], [[0, 0, 0], [0, 1, 1]]]
    for t in range(3):
        for c, channel in enumerate(CHANNELS):
            frame = raw_frame(t, channel)
            np.testing.assert_array_equal(raw[t, c, 0], frame.image)
            np.testing.assert_array_equal(sr[t, c, 0], enhance(frame).image)

    for name in ("sr", "raw"):
        # A bioformats2raw container: ome-zarr-models validates it with its images.
        BioFormats2Raw.from_zarr(zarr.open_group(out / name, mode="r"))
        model = open_ome_zarr(zarr.open_group(out / name / "0", mode="r"))
        assert isinstance(model, Image)
        assert model.ome_attributes.version == "0.5"
    chunks = zarr.open_array(out / "sr" / "0" / "0", mode="r").chunks
    assert chunks == (1, 1, 1, 48, 64)


def test_per_frame_metadata_in_journal(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "out.zarr")
    write_complete(sink, 1)
    skipped = raw_frame(1, "actin")
    sink.skip(skipped, "engine failed: NaN output")
    sink.close()
    lines = (tmp_path / "out.zarr" / "tcan_live" / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["event"], r["t"], r["channel"]) for r in records] == [
        ("raw", 0, "microtubules"),
        ("sr", 0, "microtubules"),
        ("raw", 0, "actin"),
        ("sr", 0, "actin"),
        ("raw", 1, "actin"),
        ("skip", 1, "actin"),
    ]
    assert records[0]["origin"] == "test:0/microtubules"
    assert records[0]["timestamp"] == 1_700_000_000.0
    assert records[1]["qc"]["input_mean"] == pytest.approx(
        raw_frame(0, "microtubules").image.mean()
    )
    assert records[5]["reason"] == "engine failed: NaN output"

    reopened = open_sink(tmp_path / "out.zarr")
    table = {(row["t"], row["channel"]): row for row in reopened.frame_records()}
    assert table[(1, "actin")]["status"] == "skip"
    assert table[(0, "actin")]["status"] == "sr"
    assert reopened.pending() == []
    reopened.close()


def test_pending_resume_and_no_rewrite(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    sink = open_sink(out)
    frames = [raw_frame(t, channel) for t in range(3) for channel in CHANNELS]
    for frame in frames:
        sink.store_raw(frame)
    for frame in frames[:2]:
        sink.append(frame, enhance(frame), {})
    assert sink.pending() == [frame.key for frame in frames[2:]]
    sink.close()

    resumed = open_sink(out)
    assert resumed.pending() == [frame.key for frame in frames[2:]]
    loaded = resumed.load_raw(FrameKey(1, "actin"))
    np.testing.assert_array_equal(loaded.image, raw_frame(1, "actin").image)
    assert loaded.origin == "test:1/actin" and loaded.metadata == {"seed": 11}
    for key in resumed.pending():
        frame = resumed.load_raw(key)
        resumed.append(frame, enhance(frame), {})
    assert resumed.pending() == []
    # A completed frame is never rewritten, even when offered again with other pixels.
    first = frames[0]
    other = dataclasses.replace(enhance(first), image=np.zeros((48, 64), np.float32))
    resumed.append(first, other, {})
    assert resumed.duplicates_ignored == 1
    resumed.close()
    sr, _ = read_image(out / "sr" / "0")
    np.testing.assert_array_equal(sr[0, 0, 0], enhance(first).image)


def test_torn_journal_line_is_ignored(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    sink = open_sink(out)
    frame = raw_frame(0, "actin")
    sink.store_raw(frame)
    sink.close()
    journal = out / "tcan_live" / "journal.jsonl"
    with journal.open("ab") as handle:
        handle.write(b'{"event": "sr", "t": 0, "chan')  # a write cut short by a kill
    resumed = open_sink(out)
    assert resumed.pending() == [FrameKey(0, "actin")]
    resumed.append(frame, enhance(frame), {})
    resumed.close()
    again = open_sink(out)
    assert again.pending() == [] and again.completed() == {FrameKey(0, "actin")}
    again.close()


def test_layout_mismatch_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    open_sink(out).close()
    with pytest.raises(LayoutMismatchError, match=r"raw_pixel_size_nm 100\.0 != 80\.0"):
        open_sink(out, raw_pixel_size_nm=80.0)
    with pytest.raises(LayoutMismatchError, match="channels"):
        open_sink(out, channels=(ChannelInfo("actin", "00FFFF"),))
    with pytest.raises(LayoutMismatchError, match="raw_shape"):
        open_sink(out, raw_shape=(16, 16))
    with pytest.raises(LayoutMismatchError, match="include_raw"):
        open_sink(out, include_raw=False)
    # Display colours are not part of the data: a store reopens with other colours.
    open_sink(
        out, channels=(ChannelInfo("microtubules", "FF0000"), ChannelInfo("actin", "00FF00"))
    ).close()


def test_a_format_1_store_is_refused_in_one_line_and_left_as_it_is(tmp_path: Path) -> None:
    # Format 1: the t x c layout, images directly at sr/0 (t, c, y, x), root version 1.
    old = tmp_path / "old.zarr"
    root = zarr.open_group(old, mode="w")
    root.attrs["tcan_live"] = {"version": 1, "layout": {"channels": [], "raw_shape": [8, 8]}}
    root.create_group("sr").create_array("0", shape=(2, 1, 8, 8), dtype="float32")
    before = sorted(path.relative_to(old) for path in old.rglob("*"))
    with pytest.raises(LayoutMismatchError) as refused:
        open_sink(old)
    message = str(refused.value)
    assert "\n" not in message
    assert "store format 1 (one t x c image per kind)" in message and "format 2" in message
    after = sorted(path.relative_to(old) for path in old.rglob("*"))
    assert [path for path in after if path.name != LOCK_NAME] == before  # the lock file stays


def test_foreign_store_and_symlinks_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.zarr"
    zarr.open_group(foreign, mode="w")
    with pytest.raises(LayoutMismatchError, match="not written by tcan-live"):
        open_sink(foreign)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked.zarr"
    linked.mkdir()
    (linked / "sr").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        open_sink(linked)
    assert list(elsewhere.iterdir()) == []


def test_bad_frames_get_clear_errors(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "out.zarr")
    frame = raw_frame(0, "actin")
    with pytest.raises(ValueError, match="unknown channel 'dapi'"):
        sink.store_raw(dataclasses.replace(frame, channel="dapi"))
    with pytest.raises(ValueError, match=r"shape \(8, 8\), expected \(24, 32\)"):
        sink.store_raw(dataclasses.replace(frame, image=np.zeros((8, 8), np.uint16)))
    with pytest.raises(ValueError, match="dtype float32, expected uint16"):
        sink.store_raw(dataclasses.replace(frame, image=frame.image.astype(np.float32)))
    with pytest.raises(ValueError, match=r"pixel size 70\.0 nm, expected 50\.0 nm"):
        sink.append(frame, dataclasses.replace(enhance(frame), pixel_size_nm=70.0), {})
    assert sink.pending() == [FrameKey(0, "actin")]  # the raw was kept before the SR check
    sink.close()


def test_without_raw_image_the_backlog_is_kept_until_done(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    sink = open_sink(out, include_raw=False)
    frame = raw_frame(0, "microtubules")
    sink.store_raw(frame)
    backlog_chunks = list((out / "tcan_live" / "backlog" / "0" / "0" / "c").rglob("*"))
    assert any(path.is_file() for path in backlog_chunks)
    sink.close()
    resumed = open_sink(out, include_raw=False)
    np.testing.assert_array_equal(resumed.load_raw(frame.key).image, frame.image)
    resumed.append(frame, enhance(frame), {})
    with pytest.raises(KeyError, match="was not kept"):
        resumed.load_raw(frame.key)
    resumed.close()
    backlog = out / "tcan_live" / "backlog" / "0" / "0" / "c"
    assert not [p for p in backlog.rglob("*") if p.is_file()]
    assert not (out / "raw").exists()
    assert isinstance(open_ome_zarr(zarr.open_group(out / "sr" / "0", mode="r")), Image)


def test_the_store_names_its_own_parts(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    sink = open_sink(out)
    write_complete(sink, 2)
    pending = raw_frame(2, CHANNELS[0])
    sink.store_raw(pending)
    state = sink.resume_state()
    assert sink.rejected_dir() == rejected_dir(out) and rejected_dir(out).is_relative_to(out)
    sink.close()
    # Read back with zarr directly, as any reader would, and through the store's own openers.
    assert open_sr(out).shape == zarr.open_array(out / "sr" / "0" / "0", mode="r").shape
    np.testing.assert_array_equal(open_raw(out)[2, 0, 0], pending.image)
    expected = {FrameKey(t, c) for t in range(2) for c in CHANNELS} | {FrameKey(2, CHANNELS[0])}
    assert state.keys == expected and state.runs == {0}
    assert state.origins == {raw_frame(key.t, key.channel).origin for key in state.keys}


def test_frames_written_by_other_processes_are_journalled_once(tmp_path: Path) -> None:
    # tcan-live batch: images made and sized up front, chunks written by workers, one journal.
    out = tmp_path / "batch.zarr"
    sink = open_sink(out, include_raw=False)
    planned = [
        FrameKey(t, c, z, p) for t in range(3) for c in CHANNELS for z in range(2) for p in (0, 1)
    ]
    sink.reserve(planned)
    second = FrameKey(1, "actin", z=1, p=1)
    series = {image.key: image.series for image in sink.images()}
    assert sorted(series) == [(0, 0, 0), (1, 0, 0)]
    assert open_sr(out, series[second.image]).shape == (3, 2, 2, 48, 64)
    image = enhance(raw_frame(1, "actin")).image
    write_sr_chunk(out, second, image, fsync=True)
    np.testing.assert_array_equal(np.asarray(open_sr(out, series[second.image])[1, 1, 1]), image)
    with pytest.raises(ValueError, match=r"outside the reserved t 0\.\.2, z 0\.\.1"):
        write_sr_chunk(out, FrameKey(3, "actin"), image)
    with pytest.raises(ValueError, match="no image reserved for frame t=0 channel 'actin' p=2"):
        write_sr_chunk(out, FrameKey(0, "actin", p=2), image)
    with pytest.raises(ValueError, match=r"shape \(24, 32\), expected \(48, 64\)"):
        write_sr_chunk(out, FrameKey(0, "actin"), image[:24, :32])
    with pytest.raises(ValueError, match="unknown channel 'dapi'"):
        write_sr_chunk(out, FrameKey(0, "dapi"), image)
    assert sink.record_outcome(FrameKey(0, "microtubules"), "failed", reason="worker died")
    assert sink.record_outcome(second, "sr", origin="batch:x#1", qc={"input_mean": 1.0})
    assert sink.record_outcome(FrameKey(2, "actin"), "skip", reason="1 NaN/inf pixels")
    assert not sink.record_outcome(second, "sr")  # a task that ran twice
    assert sink.duplicates_ignored == 1
    with pytest.raises(ValueError, match="event 'raw': expected 'sr', 'skip' or 'failed'"):
        sink.record_outcome(FrameKey(0, "actin"), "raw")
    sink.close()
    reopened = open_sink(out, include_raw=False)
    assert reopened.completed() == {second, FrameKey(2, "actin")}  # a failure is still to do
    assert reopened.pending() == []
    reopened.close()
    lines = (out / "tcan_live" / "journal.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["event"], e["t"], e["channel"], e["z"], e["p"]) for e in events] == [
        ("failed", 0, "microtubules", 0, 0),
        ("sr", 1, "actin", 1, 1),
        ("skip", 2, "actin", 0, 0),
    ]
    assert events[1]["origin"] == "batch:x#1" and "completed_at" in events[1]
