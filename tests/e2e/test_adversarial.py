"""The adversarial run of issue 17, one test per fault, through the daemon and the commands.

Each fault must be refused, reported in one line naming the file or field and what was
expected, or survived: with every acquired frame stored exactly once (read back with zarr
directly) and nothing written outside the configured output.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import tifffile
import zarr
from typer.testing import CliRunner, Result

from tcan_live.cli.main import app
from tcan_live.core.acquisition import Frame
from tcan_live.core.tiff_files import write_tiff
from tcan_live.daemon import Daemon
from tcan_live.sinks.store_layout import rejected_dir
from tcan_live.sinks.store_lock import StoreInUseError
from tcan_live.sources.watch import WatchFolderSource
from tests.helpers.daemon import DEMO_ENGINES, daemon_config, journal_counts

runner = CliRunner()
SHAPE = (24, 32)
MT = "microtubules"


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 4000, SHAPE, dtype=np.uint16)


def _watch(folder: Path, out: Path, engines: Path, *extra: str) -> list[str]:
    engine = str(engines / DEMO_ENGINES[0])
    return ["watch", str(folder), "--out", str(out), "--engine", engine, "--channel", MT, *extra]


def _watch_source(**changes: object) -> dict[str, object]:
    source: dict[str, object] = {"kind": "watch", "settle_s": 0.1, "poll_interval_s": 0.1}
    source.update(changes)
    return source


def _stored(out: Path) -> dict[tuple[int, str], int]:
    return dict(journal_counts(out, "sr"))


def _clean_store(tiny_engines: Path, tmp_path: Path, frames: int = 3) -> Path:
    root = tmp_path / "acquisition"
    root.mkdir()
    for t in range(frames):
        write_tiff(root / f"f{t}.tif", _image(t), 50.0)
    out = tmp_path / "out.zarr"
    assert runner.invoke(app, _watch(root, out, tiny_engines, "--once")).exit_code == 0
    return out


# 1 -------------------------------------------------------------------------------------------
def test_1_an_output_inside_the_watched_folder_is_never_read_back(
    tiny_engines: Path, tmp_path: Path
) -> None:
    root = tmp_path / "acquisition"
    root.mkdir()
    out = root / "out.zarr"
    config = daemon_config(
        tiny_engines, out, _watch_source(root=str(root), pattern=r"(?P<c>\w+?)_t(?P<t>\d+)\.tif$")
    )
    daemon = Daemon(config)
    daemon.start()
    try:
        source = cast(WatchFolderSource, daemon.source)
        write_tiff(root / f"{MT}_t0.tif", _image(0), 50.0)
        write_tiff(root / "GFP_t1.tif", _image(1), 50.0)  # unknown channel: kept in rejected/
        assert daemon.wait_idle(60)
        for _ in range(6):  # several full passes over the tree, the output included
            assert source.wait_for_pass(30)
        assert daemon.wait_idle(60)
    finally:
        stats = daemon.stop()
    assert stats.rejected == 1 and stats.frames_lost == 0
    assert len(list(rejected_dir(out).glob("*.tif"))) == 1
    assert _stored(out) == {(0, MT): 1}


# 2 -------------------------------------------------------------------------------------------
def test_2_a_second_daemon_on_the_same_store_is_refused(tiny_engines: Path, tmp_path: Path) -> None:
    root = tmp_path / "acquisition"
    root.mkdir()
    write_tiff(root / "frame.tif", _image(0), 50.0)
    out = tmp_path / "out.zarr"
    first = Daemon(daemon_config(tiny_engines, out, _watch_source(root=str(root))))
    first.start()
    try:
        second = Daemon(daemon_config(tiny_engines, out, _watch_source(root=str(root))))
        with pytest.raises(StoreInUseError, match=rf"PID {os.getpid()} on host"):
            second.start()
        second.stop()
        result = runner.invoke(app, [*_watch(root, out, tiny_engines, "--once")])
        assert result.exit_code == 1
        assert "is being written by another tcan-live process (PID" in result.output
        assert result.output.count("error:") == 1
    finally:
        first.stop()
    # Released with the first daemon: the store is usable again.
    result = runner.invoke(app, _watch(root, out, tiny_engines, "--once", "--process-existing"))
    assert result.exit_code == 0, result.output
    assert _stored(out) == {(0, MT): 1}


# 3 -------------------------------------------------------------------------------------------
def test_3_a_huge_time_index_is_refused_and_the_store_stays_small(
    tiny_engines: Path, tmp_path: Path
) -> None:
    root = tmp_path / "acquisition"
    root.mkdir()
    write_tiff(root / "mt_t2.tif", _image(2), 50.0)
    write_tiff(root / "mt_t99999999999999999999.tif", _image(3), 50.0)
    config = tmp_path / "watch.toml"
    config.write_text(
        f'[source]\nkind = "watch"\nroot = "{root}"\npattern = \'_t(?P<t>\\d+)\\.tif$\'\n'
        f'default_channel = "{MT}"\n'
        f'[channels.{MT}]\nengine = "{tiny_engines / DEMO_ENGINES[0]}"\n'
        '[output]\npath = "out.zarr"\nfsync = false\n[preview]\nenabled = false\n'
    )
    out = tmp_path / "out.zarr"
    result = runner.invoke(
        app, ["watch", str(root), "--out", str(out), "--config", str(config), "--once"]
    )
    assert result.exit_code == 0, result.output
    assert "time index 99999999999999999999 outside 0..999999" in result.output
    assert zarr.open_array(out / "sr" / "0" / "0", mode="r").shape[0] == 3
    assert _stored(out) == {(2, MT): 1}


# 4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
def test_4_a_preallocated_file_filled_slowly_is_taken_only_when_written(
    tmp_path: Path, polling: bool
) -> None:
    from tcan_live.sources.files.mapping import FrameMapper

    image = _image(4)
    path = tmp_path / "t0_mt.tif"
    tifffile.imwrite(path, image)
    complete = path.read_bytes()
    pixels_at = complete.index(image.tobytes())
    frames: list[Frame] = []
    source = WatchFolderSource(
        tmp_path,
        FrameMapper(origin_prefix="watch", default_channel=MT, pixel_size_nm=50.0),
        polling=polling,
        settle_s=0.1,
        poll_interval_s=0.1,
        give_up_after_s=60.0,
    )
    source.start(frames.append)
    try:
        with path.open("r+b") as writer:  # the writer keeps it open throughout
            writer.write(complete[:pixels_at])
            writer.truncate(len(complete))  # pre-allocated: full size, pixels still zero
            writer.flush()
            for share in (0.3, 0.7, 1.0):  # pixels arrive with pauses longer than settle_s
                end = pixels_at + int(len(image.tobytes()) * share)
                writer.seek(pixels_at)
                writer.write(complete[pixels_at:end])
                writer.flush()
                assert source.wait_for_pass(30) and source.wait_for_pass(30)
                assert frames == [], "taken while its writer still had it open"
            writer.write(complete[end:])
        assert source.wait_for_pass(30) and source.wait_for_pass(30)
        for _ in range(20):  # settle_s after the close (polling sees no close event)
            if frames:
                break
            source.wait_for_pass(30)
    finally:
        source.stop()
    (frame,) = frames
    np.testing.assert_array_equal(frame.image, image)


# 5 -------------------------------------------------------------------------------------------
def test_5_a_frame_at_another_pixel_size_is_kept_aside_and_nothing_stays_pending(
    tiny_engines: Path, tmp_path: Path
) -> None:
    root, out = tmp_path / "acquisition", _clean_store(tiny_engines, tmp_path, frames=1)
    write_tiff(root / "b.tif", _image(1), 65.0)
    for _ in range(2):  # and a rerun has nothing left to complete
        result = runner.invoke(app, _watch(root, out, tiny_engines, "--once"))
        assert result.exit_code == 0, result.output
    (kept,) = rejected_dir(out).glob("*.json")
    assert "pixel size 65.0 nm, expected 50 nm" in json.loads(kept.read_text())["reason"]
    assert _stored(out) == {(0, MT): 1}
    # A restart that overrides the pixel size is kept aside in the same way.
    write_tiff(root / "c.tif", _image(2), 50.0)
    result = runner.invoke(app, _watch(root, out, tiny_engines, "--once", "--pixel-size", "80"))
    assert result.exit_code == 0, result.output
    assert len(list(rejected_dir(out).glob("*.json"))) == 2


# 6 -------------------------------------------------------------------------------------------
def test_6_a_frame_with_a_5000_character_channel_is_kept(
    tiny_engines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.zarr"
    daemon = Daemon(daemon_config(tiny_engines, out, {"kind": "pycromanager"}))
    daemon.start()
    try:
        hook = daemon.image_process_fn
        metadata = {"Axes": {"time": 0, "channel": MT}, "PixelSize_um": 0.05}
        hook(_image(0), metadata)
        long_name = "x" * 5000
        hook(_image(1), {"Axes": {"time": 0, "channel": long_name}, "PixelSize_um": 0.05})
        assert daemon.wait_idle(60)
    finally:
        stats = daemon.stop()
    assert stats.rejected == 1 and stats.frames_lost == 0
    (side_car,) = rejected_dir(out).glob("*.json")
    assert json.loads(side_car.read_text())["channel"] == long_name
    assert len(side_car.name) < 120
    np.testing.assert_array_equal(tifffile.imread(side_car.with_suffix(".tif")), _image(1))


# 7 -------------------------------------------------------------------------------------------
def test_7_a_placeholder_filled_after_it_was_given_up_is_taken(tmp_path: Path) -> None:
    from tests.helpers.watching import watching

    path = tmp_path / "t0_mt.tif"
    with watching(
        tmp_path, polling=False, mapper={"default_channel": MT}, give_up_after_s=0.3
    ) as watched:
        path.write_bytes(b"")  # a zero-byte placeholder
        assert "truncated or corrupt TIFF" in watched.next_error()
        write_tiff(path, _image(7), 50.0)
        frame = watched.next_frame()
    np.testing.assert_array_equal(frame.image, _image(7))


# 8 -------------------------------------------------------------------------------------------
def test_8_infer_never_overwrites_an_input_or_one_output_with_another(
    tiny_engines: Path, tmp_path: Path
) -> None:
    engine = str(tiny_engines / DEMO_ENGINES[0])
    source = tmp_path / "in.tif"
    write_tiff(source, _image(0), 50.0)
    before = source.read_bytes()
    result = runner.invoke(app, ["infer", str(source), "--out", str(source), "--engine", engine])
    assert result.exit_code == 2
    assert f"would overwrite the input {source}" in result.output
    assert source.read_bytes() == before
    for folder in ("a", "b"):
        write_tiff(tmp_path / folder / "cell.tif", _image(1), 50.0)
    both = [str(tmp_path / "a" / "cell.tif"), str(tmp_path / "b" / "cell.tif")]
    result = runner.invoke(app, ["infer", *both, "--out", str(tmp_path / "o"), "--engine", engine])
    assert result.exit_code == 2
    assert "would both be written to" in result.output
    assert not (tmp_path / "o").exists()


# 9 -------------------------------------------------------------------------------------------
def test_9_a_restart_with_another_engine_for_a_channel_is_refused(
    tiny_engines: Path, tmp_path: Path
) -> None:
    root, out = tmp_path / "acquisition", _clean_store(tiny_engines, tmp_path, frames=1)
    (record,) = [
        json.loads(line)
        for line in (out / "tcan_live" / "journal.jsonl").read_text().splitlines()
        if '"event":"sr"' in line
    ]
    assert record["engine"].startswith("tiny") or "checkpoint sha256" in record["engine"]
    other = str(tiny_engines / DEMO_ENGINES[1])
    command = ["watch", str(root), "--out", str(out), "--engine", other, "--channel", MT, "--once"]
    result = runner.invoke(app, command)
    assert result.exit_code == 2
    assert f"channels.{MT}.engine: {out} holds {MT} frames made by" in result.output
    assert _stored(out) == {(0, MT): 1}


# 10 ------------------------------------------------------------------------------------------
def test_10_a_fifo_named_like_a_frame_blocks_nothing(tiny_engines: Path, tmp_path: Path) -> None:
    root = tmp_path / "acquisition"
    root.mkdir()
    os.mkfifo(root / "t0_fifo.tif")
    write_tiff(root / "t1_frame.tif", _image(1), 50.0)
    out = tmp_path / "out.zarr"
    done = threading.Event()
    outcome: list[Result] = []

    def once() -> None:
        outcome.append(runner.invoke(app, _watch(root, out, tiny_engines, "--once")))
        done.set()

    worker = threading.Thread(target=once, daemon=True)
    worker.start()
    if not done.wait(120):  # unblock the reader if it hangs, so the test fails instead
        with (root / "t0_fifo.tif").open("wb"):
            pass
        pytest.fail("watch --once hung on a FIFO")
    (result,) = outcome
    assert result.exit_code == 0, result.output
    assert "not a regular file (a FIFO, socket or device)" in result.output
    assert len(_stored(out)) == 1


# 11 ------------------------------------------------------------------------------------------
def test_11_an_engine_that_fails_on_a_frame_skips_it_and_the_worker_goes_on(
    tiny_engines: Path, tmp_path: Path
) -> None:
    import shutil

    engine = tmp_path / "broken"
    shutil.copytree(tiny_engines / DEMO_ENGINES[0], engine)
    manifest = json.loads((engine / "manifest.json").read_text())
    manifest["tile"], manifest["halo"] = 64, 8  # disagrees with the ONNX (tile 32)
    (engine / "manifest.json").write_text(json.dumps(manifest))
    root = tmp_path / "acquisition"
    root.mkdir()
    for t in range(3):
        write_tiff(root / f"f{t}.tif", _image(t), 50.0)
    out = tmp_path / "out.zarr"
    command = ["watch", str(root), "--out", str(out), "--engine", str(engine), "--once"]
    result = runner.invoke(app, [*command, "--channel", MT])
    assert result.exit_code == 0, result.output
    assert "engine failed (InvalidArgument" in result.output  # the summary's last error
    assert journal_counts(out, "skip") == {(t, MT): 1 for t in range(3)}
    reasons = [
        json.loads(line)["reason"]
        for line in (out / "tcan_live" / "journal.jsonl").read_text().splitlines()
        if '"event":"skip"' in line
    ]
    assert all("Got: 64 Expected: 32" in reason and "\n" not in reason for reason in reasons)
    # The frames are recorded as skipped: a rerun neither dies on them nor retries them.
    result = runner.invoke(app, [*command, "--channel", MT])
    assert result.exit_code == 0, result.output
    assert journal_counts(out, "skip") == {(t, MT): 1 for t in range(3)}


# 12 ------------------------------------------------------------------------------------------
def test_12_a_symlink_loop_is_one_line_and_the_pass_goes_on(
    tiny_engines: Path, tmp_path: Path
) -> None:
    root = tmp_path / "acquisition"
    root.mkdir()
    os.symlink(root / "loop.tif", root / "loop.tif")
    write_tiff(root / "z_frame.tif", _image(0), 50.0)  # listed after the loop
    out = tmp_path / "out.zarr"
    result = runner.invoke(app, _watch(root, out, tiny_engines, "--once"))
    assert result.exit_code == 0, result.output
    assert "loop.tif" in result.output and "Traceback" not in result.output
    assert len(_stored(out)) == 1


# 13 ------------------------------------------------------------------------------------------
def test_13_rich_markup_in_names_prints_as_it_is(tiny_engines: Path, tmp_path: Path) -> None:
    root = tmp_path / "acq[" / "]uisition"  # the path holds "[/]"
    root.mkdir(parents=True)
    (root / "bad[bold]name[red].tif").write_bytes(b"not a tiff at all")
    write_tiff(root / "good.tif", _image(0), 50.0)
    out = tmp_path / "o[" / "]ut.zarr"
    result = runner.invoke(app, _watch(root, out, tiny_engines, "--once"))
    assert result.exit_code == 0, result.output
    assert f"{root}/bad[bold]name[red].tif: truncated or corrupt TIFF" in result.output
    assert "MarkupError" not in result.output and (out / "zarr.json").is_file()


# 14 ------------------------------------------------------------------------------------------
def test_14_odd_inputs_get_one_line_not_a_traceback(tiny_engines: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert (
        runner.invoke(
            app,
            [
                "simulate",
                "--structure",
                "beads",
                "--count",
                "1",
                "--size",
                "32",
                "--out",
                str(data),
            ],
        ).exit_code
        == 0
    )
    evaluate = ["evaluate", "--data", str(data), "--out", str(tmp_path / "e"), "--baseline"]
    cases: list[tuple[list[str], int, str]] = [
        ([*evaluate, "bicubic"], 2, "--baseline bicubic"),
        ([*evaluate, "lucy-richardson", "--lr-iterations", "-3"], 2, "--lr-iterations"),
    ]
    # A truncated model.onnx whose hash was rewritten to match it.
    import hashlib
    import shutil

    engine = tmp_path / "truncated"
    shutil.copytree(tiny_engines / DEMO_ENGINES[0], engine)
    onnx = engine / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:2000])
    manifest = json.loads((engine / "manifest.json").read_text())
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
    manifest["onnx_sha256"] = manifest["engine_sha256"] = digest
    (engine / "manifest.json").write_text(json.dumps(manifest))
    source = tmp_path / "in.tif"
    write_tiff(source, _image(0), 50.0)
    cases.append(
        (
            ["infer", str(source), "--out", str(tmp_path / "o"), "--engine", str(engine)],
            2,
            "onnxruntime cannot load the model",
        )
    )
    for command, code, expected in cases:
        result = runner.invoke(app, command)
        assert result.exit_code == code, (command, result.output)
        assert expected in result.output, (command, result.output)
        assert "Traceback" not in result.output


def test_14_absurd_architecture_metadata_is_refused_before_allocating(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from tests.synthetic import tiny_checkpoint

    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    with open(checkpoint, "rb") as handle:
        from safetensors import safe_open

        with safe_open(str(checkpoint), framework="pt") as opened:
            metadata = dict(opened.metadata())
    del handle
    document = json.loads(metadata["tcan_live"])
    document["architecture"].update(unet_base=512, unet_depth=6)  # ~48 G parameters
    metadata["tcan_live"] = json.dumps(document)
    hostile = tmp_path / "hostile.safetensors"
    save_file(load_file(checkpoint), hostile, metadata=metadata)
    command = [
        "build-engine",
        str(hostile),
        "--backend",
        "onnxruntime",
        "--out",
        str(tmp_path / "x"),
    ]
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "weights do not fit the architecture" in result.output


@pytest.mark.parametrize(
    ("section", "text", "expected"),
    [
        ("output", 'path = ""', "output.path: an empty path: expected the store's path"),
        (f"channels.{MT}", "fixed_range = [10, 5]", "expected [low, high] with low < high"),
    ],
)
def test_14_empty_output_path_and_reversed_range_are_config_errors(
    tiny_engines: Path, tmp_path: Path, section: str, text: str, expected: str
) -> None:
    engine = tiny_engines / DEMO_ENGINES[0]
    sections = {
        "source": f'kind = "watch"\nroot = "{tmp_path}"',
        f"channels.{MT}": f'engine = "{engine}"',
        "output": 'path = "out.zarr"',
    }
    sections[section] = text if section == "output" else sections[section] + "\n" + text
    config = tmp_path / "x.toml"
    config.write_text("".join(f"[{name}]\n{body}\n" for name, body in sections.items()))
    result = runner.invoke(app, ["run", "--config", str(config), "--no-dashboard"])
    assert result.exit_code == 2
    assert expected in result.output


def test_14_a_permission_error_says_so(tmp_path: Path) -> None:
    """Read as an unprivileged user (root reads any file): the message names the cause."""
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tcan-permission-"))  # traversable by anyone
    folder.chmod(0o755)
    write_tiff(folder / "t0.tif", _image(0), 50.0)
    (folder / "t0.tif").chmod(0o000)
    script = (
        "from pathlib import Path\n"
        "from tcan_live.sources.files.mapping import FrameMapper\n"
        "from tcan_live.sources.watch import WatchFolderSource\n"
        f"s = WatchFolderSource(Path({str(folder)!r}), FrameMapper(origin_prefix='watch'),"
        " on_error=print)\n"
        "s.run_once(lambda f: None)\n"
    )
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        command = []
    result = subprocess.run(
        [*command, sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    (folder / "t0.tif").unlink()
    folder.rmdir()
    assert result.returncode == 0, result.stderr
    assert "t0.tif: cannot be read (Permission denied)" in result.stdout


# 15 ------------------------------------------------------------------------------------------
def test_15_an_ipc_address_never_replaces_a_file(tiny_engines: Path, tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    root = tmp_path / "acquisition"
    root.mkdir()
    config = tmp_path / "x.toml"
    config.write_text(
        f'[source]\nkind = "watch"\nroot = "{root}"\n'
        f'[channels.{MT}]\nengine = "{tiny_engines / DEMO_ENGINES[0]}"\n'
        f'[output]\npath = "out.zarr"\n[preview]\naddress = "ipc://{precious}"\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config), "--no-dashboard"])
    assert result.exit_code == 2
    assert "exists and is not a socket" in result.output
    assert precious.read_text() == "keep me"


# 16 ------------------------------------------------------------------------------------------
def test_16_a_symlinked_journal_is_refused_and_nothing_is_written_outside(
    tiny_engines: Path, tmp_path: Path
) -> None:
    root, out = tmp_path / "acquisition", _clean_store(tiny_engines, tmp_path, frames=1)
    outside = tmp_path / "elsewhere.jsonl"
    journal = out / "tcan_live" / "journal.jsonl"
    outside.write_bytes(journal.read_bytes())
    journal.unlink()
    journal.symlink_to(outside)
    before = outside.read_bytes()
    write_tiff(root / "b.tif", _image(1), 50.0)
    result = runner.invoke(app, _watch(root, out, tiny_engines, "--once"))
    assert result.exit_code != 0
    assert "journal.jsonl is a symbolic link" in result.output
    assert outside.read_bytes() == before


# Cases that held in the adversarial run, kept held --------------------------------------------
def test_sigterm_mid_run_stores_what_arrived_and_the_rerun_completes(
    tiny_engines: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "acquisition"
    root.mkdir()
    images = [_image(t) for t in range(10)]
    for t, image in enumerate(images):
        write_tiff(root / f"f{t:02d}.tif", image, 50.0)
    out = tmp_path / "out.zarr"
    cli = str(Path(sys.executable).with_name("tcan-live"))
    command = [cli, *_watch(root, out, tiny_engines, "--process-existing", "--no-dashboard")]
    journal = out / "tcan_live" / "journal.jsonl"
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and journal.read_text().count('"event":"raw"') >= 3:
                break
            time.sleep(0.05)  # polling another process's file, not ordering our threads
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output.decode()
    result = runner.invoke(app, _watch(root, out, tiny_engines, "--once", "--process-existing"))
    assert result.exit_code == 0, result.output
    assert journal_counts(out, "raw") == {(t, MT): 1 for t in range(10)}
    assert journal_counts(out, "sr") == {(t, MT): 1 for t in range(10)}
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r")
    assert sorted(np.asarray(raw[t, 0, 0]).tobytes() for t in range(10)) == sorted(
        image.tobytes() for image in images
    )


def test_a_burst_of_files_is_taken_exactly_once(tiny_engines: Path, tmp_path: Path) -> None:
    root = tmp_path / "acquisition"
    root.mkdir()
    out = tmp_path / "out.zarr"
    pattern = r"_t(?P<t>\d+)\.tif$"
    config = daemon_config(
        tiny_engines, out, _watch_source(root=str(root), pattern=pattern, default_channel=MT)
    )
    daemon = Daemon(config)
    daemon.start()
    try:
        for t in range(200):  # as fast as the disk takes them
            write_tiff(root / f"mt_t{t}.tif", _image(t), 50.0)
        source = cast(WatchFolderSource, daemon.source)
        while len(source.delivered) < 200:
            assert source.wait_for_pass(60), f"only {len(source.delivered)} of 200 taken"
        assert daemon.wait_idle(300)
    finally:
        stats = daemon.stop()
    assert stats.frames_lost == 0 and stats.errors == 0
    assert journal_counts(out, "sr") == {(t, MT): 1 for t in range(200)}


# tcan-live doctor -----------------------------------------------------------------------------
def test_doctor_passes_a_clean_store(tiny_engines: Path, tmp_path: Path) -> None:
    out = _clean_store(tiny_engines, tmp_path)
    result = runner.invoke(app, ["doctor", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 raw, 3 sr, 0 skip, 0 pending" in result.output and "healthy" in result.output


def test_doctor_finds_two_writers_damage(tiny_engines: Path, tmp_path: Path) -> None:
    out = _clean_store(tiny_engines, tmp_path)
    # What two daemons with their own array lengths leave: chunks beyond the shape, and
    # every frame journalled twice.
    import shutil

    chunks = out / "sr" / "0" / "0" / "c"  # (t, c, z, y, x): c/<t>/<c>/<z>/0/0
    (chunks / "4" / "0" / "0" / "0").mkdir(parents=True)
    shutil.copyfile(chunks / "0" / "0" / "0" / "0" / "0", chunks / "4" / "0" / "0" / "0" / "0")
    journal = out / "tcan_live" / "journal.jsonl"
    journal.write_text(journal.read_text() * 2)
    result = runner.invoke(app, ["doctor", str(out)])
    assert result.exit_code == 1
    assert "sr image 0: chunk t=4 c=0 z=0 lies outside the array's shape (3, 1" in result.output
    assert "journalled as raw more than once" in result.output
    assert "journalled as sr more than once" in result.output


def test_doctor_finds_an_absurdly_sized_array(tiny_engines: Path, tmp_path: Path) -> None:
    out = _clean_store(tiny_engines, tmp_path)
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r+")
    raw.resize((10**15, *raw.shape[1:]))
    result = runner.invoke(app, ["doctor", str(out)])
    assert result.exit_code == 1
    assert f"raw image 0: sized to {10**15} time points, but its last frame is t=2" in result.output
    assert runner.invoke(app, ["doctor", str(tmp_path / "acquisition")]).exit_code == 2


def test_14_what_tifffile_logs_names_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import io
    import struct

    from tcan_live.sources.files.single_tiff import read_tiff_planes

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, _image(0), extratags=[(65000, "H", 1, 7, True)])
    data = bytearray(buffer.getvalue())
    at = data.find(struct.pack("<H", 65000))
    data[at + 2 : at + 4] = struct.pack("<H", 99)  # an invalid tag type: tifffile complains
    path = tmp_path / "odd_tag.tif"
    path.write_bytes(bytes(data))
    (frame,) = read_tiff_planes(path)
    np.testing.assert_array_equal(frame.image, _image(0))
    from_tifffile = [r.getMessage() for r in caplog.records if r.name == "tifffile"]
    assert from_tifffile and all(message.startswith(f"{path}: ") for message in from_tifffile)
