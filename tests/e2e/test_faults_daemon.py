"""Fault injection through the whole daemon: SIGKILL mid-run, a full disk, corrupt engines,
bad configs.

Each test ends by checking that every acquired frame is present exactly once in the output
and that every completed chunk reads back.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.tiff_files import write_tiff
from tests.helpers.bad_files import MAPPER, write_bad_files, write_tiff_um
from tests.helpers.daemon import DEMO_ENGINES, journal_counts
from tests.helpers.small_disk import grow, mounted_small_disk

runner = CliRunner()
CLI = str(Path(sys.executable).with_name("tcan-live"))


def _frames(folder: Path, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    images = [rng.integers(100, 4000, (40, 48), np.uint16) for _ in range(count)]
    for t, image in enumerate(images):
        write_tiff(folder / f"frame_t{t}.tif", image, 50.0)
    return images


def _wait_for_journal(store: Path, events: int, process: subprocess.Popen[bytes]) -> int:
    """Poll the store's journal (bounded in time) until it holds ``events`` raw records."""
    journal = store / "tcan_live" / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists():
            lines = journal.read_text().splitlines()
            raw = sum(1 for line in lines if '"event":"raw"' in line.replace(" ", ""))
            if raw >= events:
                return raw
        time.sleep(0.05)  # polling an external process's file, not ordering our own threads
    raise AssertionError(f"journal never reached {events} raw records")


def _assert_every_frame_once(out: Path, images: list[np.ndarray]) -> None:
    """Each acquired frame stored raw and super-resolved exactly once; every chunk reads back."""
    every = {(t, "microtubules"): 1 for t in range(len(images))}
    assert journal_counts(out, "raw") == every
    assert journal_counts(out, "sr") == every
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r")
    sr = zarr.open_array(out / "sr" / "0" / "0", mode="r")
    # Without a time index in the files, frames are numbered by arrival: compare as sets.
    stored = sorted(np.asarray(raw[t, 0, 0]).tobytes() for t in range(len(images)))
    assert stored == sorted(image.tobytes() for image in images)
    for t in range(len(images)):
        enhanced = np.asarray(sr[t, 0])
        assert np.isfinite(enhanced).all() and float(enhanced.std()) > 0


def test_sigkill_mid_run_then_restart_loses_nothing(tiny_engines: Path, tmp_path: Path) -> None:
    frames = 12
    folder = tmp_path / "acquisition"
    folder.mkdir()
    images = _frames(folder, frames)
    out = tmp_path / "out.zarr"
    engine = ["--engine", str(tiny_engines / DEMO_ENGINES[0]), "--channel", "microtubules"]
    command = [CLI, "watch", str(folder), "--out", str(out), *engine, "--no-dashboard"]
    with subprocess.Popen(
        [*command, "--process-existing"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        _wait_for_journal(out, 3, process)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    before = journal_counts(out, "sr")

    restarted = runner.invoke(app, [*command[1:], "--once"])
    assert restarted.exit_code == 0, restarted.output
    assert all(count == 1 for count in before.values())
    _assert_every_frame_once(out, images)


def test_corrupt_and_mismatching_engines_are_refused_in_one_line(
    tiny_engines: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "acquisition"
    folder.mkdir()
    _frames(folder, 1)
    source = tiny_engines / DEMO_ENGINES[0]

    def run_with(engine: Path) -> str:
        out = tmp_path / f"{engine.name}.zarr"
        options = ["--engine", str(engine), "--once", "--no-dashboard"]
        result = runner.invoke(app, ["watch", str(folder), "--out", str(out), *options])
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        return result.output

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for item in source.iterdir():
        (corrupt / item.name).write_bytes(item.read_bytes())
    onnx = corrupt / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-100] + b"\x00" * 100)
    assert "does not match the manifest" in run_with(corrupt)

    other_gpu = tmp_path / "other-backend"
    other_gpu.mkdir()
    for item in source.iterdir():
        (other_gpu / item.name).write_bytes(item.read_bytes())
    manifest = json.loads((other_gpu / "manifest.json").read_text())
    manifest["backend"] = "tensorrt"
    manifest.update(gpu_name="NVIDIA H100", compute_capability="9.0", tensorrt_version="10.9")
    (other_gpu / "manifest.json").write_text(json.dumps(manifest))
    output = run_with(other_gpu)
    assert "rebuild with" in output or "TensorRT" in output


def test_malformed_config_names_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[source]\nkind = "watch"\nroot = "x"\nsettle_s = -1\n[output]\n')
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert "broken.toml: source.settle_s" in result.output
    assert "output.path" in result.output
    config.write_text("this is [not toml")
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2 and "broken.toml" in result.output


def test_disk_full_then_space_freed_loses_nothing(
    tiny_engines: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = 40
    folder = tmp_path / "acquisition"
    folder.mkdir()
    images = _frames(folder, frames)
    engine = ["--engine", str(tiny_engines / DEMO_ENGINES[0]), "--channel", "microtubules"]
    with mounted_small_disk(tmp_path / "disk", "160k") as disk:
        out = disk / "out.zarr"
        command = ["watch", str(folder), "--out", str(out), *engine, "--once", "--no-dashboard"]
        full = runner.invoke(app, command)
        assert full.exit_code == 1 and "Traceback" not in full.output
        disk_full = [r.getMessage() for r in caplog.records if "disk full" in r.getMessage()]
        assert disk_full, full.output
        for message in disk_full:  # one line each, naming the store and what is safe
            assert "\n" not in message and str(out) in message
            assert "written before are intact" in message
        assert "rerun the same command to complete them" in full.stdout.splitlines()[-1]
        raw_while_full = journal_counts(out, "raw")
        sr_while_full = journal_counts(out, "sr")
        assert len(raw_while_full) > 0 and len(sr_while_full) < frames
        assert set(raw_while_full.values()) == {1} and set(sr_while_full.values()) <= {1}

        grow(disk, "8m")  # the microscopist frees space; the same command completes the rest
        again = runner.invoke(app, command)
        assert again.exit_code == 0, again.output
        _assert_every_frame_once(out, images)


def test_bad_files_among_good_ones_through_the_daemon(
    tiny_engines: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder, outside = tmp_path / "acquisition", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    expected = write_bad_files(folder, outside)  # t0 DAPI is good, then one file per fault
    rng = np.random.default_rng(8)
    good = {(0, "DAPI"): tifffile.imread(folder / "t0_DAPI_a_first.tif")}
    for t, channel in ((10, "DAPI"), (10, "FITC"), (11, "DAPI"), (11, "FITC")):
        good[(t, channel)] = rng.integers(100, 4000, (8, 8), dtype=np.uint16)
        write_tiff_um(folder / f"t{t}_{channel}.tif", good[(t, channel)])
    engines = {"DAPI": DEMO_ENGINES[0], "FITC": DEMO_ENGINES[1]}
    config = tmp_path / "watch.toml"
    config.write_text(
        f'[source]\nkind = "watch"\nroot = "{folder}"\npattern = \'{MAPPER["pattern"]}\'\n'
        'channels = ["DAPI", "FITC"]\n'
        + "".join(f'[channels.{c}]\nengine = "{tiny_engines / e}"\n' for c, e in engines.items())
        + '[output]\npath = "ignored.zarr"\nfsync = false\n[preview]\nenabled = false\n'
    )
    out = tmp_path / "out.zarr"
    command = ["watch", str(folder), "--out", str(out), "--config", str(config), "--once"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output  # bad files are reported, no frame is lost

    messages = [record.getMessage() for record in caplog.records]
    for name, part in expected.items():
        lines = [m for m in messages if name in m and part in m]
        assert lines and all("\n" not in line for line in lines), (name, messages)
    every = dict.fromkeys(good, 1)
    assert journal_counts(out, "raw") == every and journal_counts(out, "sr") == every
    raw = zarr.open_array(out / "raw" / "0" / "0", mode="r")
    for (t, channel), image in good.items():  # stored at its own time index
        np.testing.assert_array_equal(raw[t, ["DAPI", "FITC"].index(channel), 0], image)
