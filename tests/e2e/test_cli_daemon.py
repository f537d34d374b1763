"""``tcan-live demo``, ``run`` and ``watch`` as a user runs them: outputs, errors, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import zarr
from matplotlib.image import imread
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.tiff_files import write_tiff
from tests.helpers.daemon import DEMO_ENGINES, journal_counts

runner = CliRunner()
CLI = str(Path(sys.executable).with_name("tcan-live"))


def test_demo_runs_end_to_end(tiny_engines: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    command = ["demo", "--frames", "5", "--size", "96", "--engines-dir", str(tiny_engines)]
    # --no-preview: the default port 5556 may be taken by another run on a shared machine.
    result = runner.invoke(app, [*command, "--out", str(out), "--no-preview"])
    assert result.exit_code == 0, result.output
    assert "10 frames (5 time points x 2 channels)" in result.output
    sr = zarr.open_array(out / "demo.zarr" / "sr" / "0" / "0", mode="r")
    assert sr.shape == (5, 2, 1, 96, 96)
    assert journal_counts(out / "demo.zarr", "sr") == {
        (t, c): 1 for t in range(5) for c in ("microtubules", "actin")
    }
    image = imread(out / "demo_composite.png")
    assert image.ndim == 3 and image.shape[0] > 500 and image.shape[1] > 500
    assert float(image[..., :3].std()) > 0.05  # not blank

    again = runner.invoke(app, [*command, "--out", str(out), "--no-preview", "--frames", "2"])
    assert again.exit_code == 0, again.output  # a previous demo store is replaced
    assert zarr.open_array(out / "demo.zarr" / "sr" / "0" / "0", mode="r").shape[0] == 2


def test_demo_with_z_stacks_at_two_positions(tiny_engines: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    command = ["demo", "--frames", "2", "--size", "64", "--z", "3", "--positions", "2"]
    result = runner.invoke(
        app, [*command, "--engines-dir", str(tiny_engines), "--out", str(out), "--no-preview"]
    )
    assert result.exit_code == 0, result.output
    table = " ".join(result.output.replace("│", " ").split())  # rich wraps long cells
    assert "24 frames (2 positions x 2 time points x 2 channels x 3 z slices)" in table
    for series in ("0", "1"):
        sr = zarr.open_array(out / "demo.zarr" / "sr" / series / "0", mode="r")
        assert sr.shape == (2, 2, 3, 64, 64)
        assert all(float(np.asarray(sr[t, c, z]).std()) > 0 for t, c, z in np.ndindex(2, 2, 3))
    assert (out / "demo_composite.png").is_file()


def test_demo_without_the_default_engines_names_the_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--engines-dir", str(tmp_path), "--out", str(tmp_path)])
    assert result.exit_code == 2  # bad input
    assert f"no engine folder at {tmp_path / 'microtubules-small'}" in result.output
    assert not (tmp_path / "demo.zarr").exists()


def test_run_reports_config_errors_by_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "x.toml"
    config.write_text(
        '[source]\nkind = "watch"\nroot = "."\nsettle_s = -1\n'
        '[channels.actin]\nengine = "engines/acti"\n[output]\npath = "o.zarr"\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: source.settle_s: Input should be greater than or equal to 0" in result.output
    config.write_text(config.read_text().replace("settle_s = -1\n", ""))
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: channels.actin.engine: no engine folder at engines/acti" in result.output


def test_run_refuses_in_process_sources(tiny_engines: Path, tmp_path: Path) -> None:
    config = tmp_path / "hook.toml"
    engine = tiny_engines / DEMO_ENGINES[1]
    config.write_text(
        f'[source]\nkind = "pycromanager"\n[channels.actin]\nengine = "{engine}"\n'
        '[output]\npath = "o.zarr"\n[preview]\nenabled = false\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert "source.kind = 'pycromanager' runs inside your acquisition script" in result.output


def test_ctrl_c_stores_what_arrived_and_watch_once_completes_the_rest(
    tiny_engines: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "acquisition"
    rng = np.random.default_rng(5)
    frames = 6
    for t in range(frames):
        write_tiff(folder / f"t{t}.tif", rng.integers(100, 3000, (40, 40), np.uint16), 50.0)
    out = tmp_path / "out.zarr"
    engine = ["--engine", str(tiny_engines / DEMO_ENGINES[0]), "--channel", "microtubules"]
    command = [CLI, "watch", str(folder), "--out", str(out), *engine, "--no-dashboard"]
    with subprocess.Popen(
        [*command, "--process-existing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        banner = process.stdout.readline()  # printed once the daemon is built and starting
        assert "watch source" in banner, banner
        process.send_signal(signal.SIGINT)
        output = banner + process.stdout.read()
        assert process.wait(timeout=60) == 0, output
    assert "summary" in output and "Traceback" not in output

    once = runner.invoke(app, [*command[1:], "--once"])
    assert once.exit_code == 0, once.output
    every = {(t, "microtubules"): 1 for t in range(frames)}
    assert journal_counts(out, "sr") == every and journal_counts(out, "raw") == every


def test_watch_once_on_a_missing_folder_says_so(tiny_engines: Path, tmp_path: Path) -> None:
    engine = str(tiny_engines / DEMO_ENGINES[0])
    missing = tmp_path / "nowhere"
    out = tmp_path / "o.zarr"
    result = runner.invoke(
        app, ["watch", str(missing), "--out", str(out), "--engine", engine, "--once"]
    )
    assert result.exit_code == 2  # bad input
    assert f"watch root {missing}: expected an existing folder" in result.output
    assert not out.exists()


def _tiffs(folder: Path, times: list[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(6)
    images = [rng.integers(100, 3000, (32, 40), np.uint16) for _ in times]
    for t, image in zip(times, images, strict=True):
        write_tiff(folder / f"frame_t{t}.tif", image, 50.0)
    return images


def test_run_a_replay_config_until_its_files_are_done(tiny_engines: Path, tmp_path: Path) -> None:
    images = _tiffs(tmp_path / "files", [0, 1])
    config = tmp_path / "replay.toml"
    config.write_text(
        '[source]\nkind = "replay"\nfiles = ["files/frame_t0.tif", "files/frame_t1.tif"]\n'
        'default_channel = "actin"\n'
        f'[channels.actin]\nengine = "{tiny_engines / DEMO_ENGINES[1]}"\n'
        '[output]\npath = "replayed.zarr"\nfsync = false\n[preview]\nenabled = false\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config), "--no-dashboard"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "replayed.zarr"  # beside the config, not in the working directory
    assert journal_counts(out, "sr") == {(0, "actin"): 1, (1, "actin"): 1}
    raw = np.asarray(zarr.open_array(out / "raw" / "0" / "0", mode="r"))
    np.testing.assert_array_equal(raw[:, 0, 0], np.stack(images))


def test_watch_takes_channels_and_pattern_from_a_config(tiny_engines: Path, tmp_path: Path) -> None:
    _tiffs(tmp_path / "acq", [3, 7])
    config = tmp_path / "watch.toml"
    config.write_text(
        '[source]\nkind = "watch"\nroot = "elsewhere"\npattern = \'t(?P<t>\\d+)\\.tif$\'\n'
        'default_channel = "microtubules"\n'
        f'[channels.microtubules]\nengine = "{tiny_engines / DEMO_ENGINES[0]}"\n'
        '[output]\npath = "ignored.zarr"\nfsync = false\n[preview]\nenabled = false\n'
    )
    out = tmp_path / "given.zarr"
    command = ["watch", str(tmp_path / "acq"), "--out", str(out), "--config", str(config)]
    result = runner.invoke(app, [*command, "--once"])
    assert result.exit_code == 0, result.output
    assert journal_counts(out, "sr") == {(3, "microtubules"): 1, (7, "microtubules"): 1}
    assert not (tmp_path / "ignored.zarr").exists()
