"""``tcan-live batch`` as a user runs it: 200 frames on a local cluster of two worker processes.

A worker process is SIGKILLed mid-run (Dask reschedules its tasks), the client is SIGKILLed
mid-run (the rerun completes the rest); the stores are read back with zarr directly and
compared with ``tcan-live infer`` on the same frames.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
from tests.helpers.batch import (
    completions,
    filament_stack,
    initialized_chunks,
    journal,
    sr_array,
    written_chunks,
)
from tests.helpers.daemon import DEMO_ENGINES

runner = CliRunner()
CLI = str(Path(sys.executable).with_name("tcan-live"))
FRAMES = 200
LOCAL = ["--workers", "2", "--engine-threads", "1", "--no-fsync", "--no-progress"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch-200")
    return write_tiff(folder / "timelapse.ome.tif", filament_stack(FRAMES)[:, None], 100.0)


@pytest.fixture(scope="module")
def inferred(dataset: Path, tiny_engines: Path) -> np.ndarray:
    """``tcan-live infer`` on the same 200 frames: the reference."""
    out = dataset.with_name("inferred.tif")
    engine = str(tiny_engines / DEMO_ENGINES[0])
    result = runner.invoke(app, ["infer", str(dataset), "--engine", engine, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return read_tiff_stack(out)[0]


def _command(dataset: Path, out: Path, tiny_engines: Path) -> list[str]:
    engine = ["--engine", str(tiny_engines / DEMO_ENGINES[0]), "--dashboard", "none"]
    return [CLI, "batch", str(dataset), "--out", str(out), *engine, *LOCAL]


def _wait_for_frames(store: Path, count: int, process: subprocess.Popen[bytes]) -> int:
    """Poll the store's journal (bounded in time) until ``count`` frames are complete."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (store / "tcan_live" / "journal.jsonl").exists():
            done = sum(completions(store).values())
            if done >= count:
                return done
        time.sleep(0.02)  # polling another process's file, not ordering our own threads
    raise AssertionError(f"the journal never reached {count} frames (exit {process.poll()})")


def _workers(client: psutil.Process) -> list[psutil.Process]:
    """The client's Dask worker processes (spawned by its nannies; not the resource tracker)."""
    return [
        child
        for child in client.children()
        if "spawn_main" in " ".join(child.cmdline()) and child.is_running()
    ]


def _assert_every_frame_once(out: Path, inferred: np.ndarray) -> None:
    assert completions(out) == {(t, "default"): 1 for t in range(FRAMES)}
    sr = sr_array(out)
    assert sr.shape == (FRAMES, 1, *inferred.shape[1:]) and written_chunks(out) == FRAMES
    assert initialized_chunks(out) == FRAMES
    np.testing.assert_array_equal(np.asarray(sr)[:, 0], inferred)


def test_a_killed_worker_is_replaced_and_every_frame_stored_once(
    dataset: Path, inferred: np.ndarray, tiny_engines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "worker-killed.zarr"
    with subprocess.Popen(
        _command(dataset, out, tiny_engines), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        done_at_kill = _wait_for_frames(out, 20, process)
        victims = _workers(psutil.Process(process.pid))
        assert len(victims) == 2
        victims[0].send_signal(signal.SIGKILL)
        output, _ = process.communicate(timeout=300)
    text = output.decode()
    assert process.returncode == 0, text
    assert done_at_kill < FRAMES
    assert f"frames: {FRAMES} in the dataset; {FRAMES} written, 0 skipped, 0 failed" in text
    assert "running on a local cluster of 2 workers\n" in text  # --dashboard none: no link
    assert not victims[0].is_running()
    _assert_every_frame_once(out, inferred)
    # Results came from the killed worker before it died.
    pids = {str(r["worker"]).rsplit(" ", 1)[1] for r in journal(out) if r["event"] == "sr"}
    assert str(victims[0].pid) in pids


def test_a_killed_client_leaves_the_rest_to_the_rerun(
    dataset: Path, inferred: np.ndarray, tiny_engines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "client-killed.zarr"
    command = _command(dataset, out, tiny_engines)
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as first:
        _wait_for_frames(out, 30, first)
        workers = _workers(psutil.Process(first.pid))
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=60) == -signal.SIGKILL
    # Its workers notice their parent is gone and exit; none keeps writing into the store.
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive
    before = completions(out)
    assert 30 <= sum(before.values()) < FRAMES and set(before.values()) == {1}
    with_dashboard = [":0" if argument == "none" else argument for argument in command]
    rerun = subprocess.run(with_dashboard, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "; dashboard: http://" in rerun.stderr  # the link the dashboard answers on
    done = f"{FRAMES - len(before)} written, 0 skipped, 0 failed this run; {len(before)} done"
    assert done in rerun.stderr
    _assert_every_frame_once(out, inferred)


def test_an_existing_cluster_started_by_hand(tiny_engines: Path, tmp_path: Path) -> None:
    # `dask scheduler` and `dask worker` as an administrator starts them; batch connects.
    address_file = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler_command = [dask, "scheduler", "--port", "0", "--no-dashboard"]
    worker_command = [dask, "worker", "--nworkers", "2", "--nthreads", "1", "--no-dashboard"]
    with (
        subprocess.Popen(
            [*scheduler_command, "--scheduler-file", str(address_file)], stderr=subprocess.DEVNULL
        ) as scheduler,
        subprocess.Popen(
            [*worker_command, "--scheduler-file", str(address_file)], stderr=subprocess.DEVNULL
        ) as workers,
    ):
        try:
            address = _scheduler_address(address_file, scheduler)
            frames = filament_stack(12)
            source = write_tiff(tmp_path / "cell.tif", frames[:, None], 100.0)
            out = tmp_path / "cell.zarr"
            engine = str(tiny_engines / DEMO_ENGINES[0])
            arguments = ["batch", str(source), "--out", str(out), "--engine", engine]
            options = ["--scheduler", address, "--engine-threads", "1", "--no-progress"]
            result = runner.invoke(app, [*arguments, *options])
        finally:
            workers.terminate()
            workers.wait(timeout=60)
            scheduler.terminate()
            scheduler.wait(timeout=60)
    assert result.exit_code == 0, result.output
    assert f"running on {address}\n" in result.output  # started with --no-dashboard
    assert "12 written, 0 skipped, 0 failed" in result.output
    assert completions(out) == {(t, "default"): 1 for t in range(12)}
    inferred = tmp_path / "inferred.tif"
    infer = runner.invoke(app, ["infer", str(source), "--engine", engine, "--out", str(inferred)])
    assert infer.exit_code == 0, infer.output
    np.testing.assert_array_equal(np.asarray(sr_array(out))[:, 0], read_tiff_stack(inferred)[0])
    workers_seen = {r["worker"].split(" ")[0] for r in journal(out) if r["event"] == "sr"}
    assert len(workers_seen) == 2  # both hand-started worker processes took frames


def _scheduler_address(address_file: Path, scheduler: subprocess.Popen[bytes]) -> str:
    """The address ``dask scheduler`` writes to its scheduler file once it listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scheduler.poll() is None:
        if address_file.exists():
            try:
                return str(json.loads(address_file.read_text())["address"])
            except ValueError:  # the file is still being written
                pass
        time.sleep(0.05)  # polling another process's file, not ordering our own threads
    raise AssertionError("dask scheduler never wrote its address")


def test_bad_requests_are_one_line_errors(tiny_engines: Path, tmp_path: Path) -> None:
    frames = write_tiff(tmp_path / "f.tif", filament_stack(2)[:, None], 100.0)
    engine = ["--engine", str(tiny_engines / DEMO_ENGINES[0]), "--dashboard", "none"]

    def run(*arguments: str) -> str:
        result = runner.invoke(app, ["batch", *arguments])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        return result.output

    assert "missing.zarr: no such file or folder" in run(
        str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "o.zarr"), *engine
    )
    assert "engine: give an engine folder" in run(str(frames), "--out", str(tmp_path / "o.zarr"))
    assert f"{frames}: unknown channel 'default': expected one of ['other']" in run(
        str(frames), "--out", str(tmp_path / "o.zarr"), "--engine-for", f"other={engine[1]}"
    )
    assert "mapping.pattern: expected a named group for an index" in run(
        str(frames), "--out", str(tmp_path / "o.zarr"), *engine, "--pattern", "frame"
    )
    assert "normalization: Input should be 'per-frame', 'fixed' or 'running'" in run(
        str(frames), "--out", str(tmp_path / "o.zarr"), *engine, "--normalization", "smooth"
    )
    assert "--workers: only for a local cluster (no --scheduler)" in run(
        str(frames),
        "--out",
        str(tmp_path / "o.zarr"),
        *engine,
        "--scheduler",
        "tcp://x:1",
        "--workers",
        "2",
    )
    assert "manifest.json: no engine manifest (expected a folder from build-engine)" in run(
        str(frames), "--out", str(tmp_path / "o.zarr"), "--engine", str(tmp_path)
    )
