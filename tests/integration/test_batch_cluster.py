"""tcan-live batch on a real LocalCluster of two worker processes, with real tiny engines.

Outputs are read back with zarr directly and compared with the runtime run in this process;
a worker process is killed with SIGKILL mid-run through the run's own progress callback.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import tifffile
import zarr
from distributed import Client

from tcan_live.batch.cluster import ClusterPlan, batch_client
from tcan_live.batch.run import BatchProgress, BatchSummary, run_batch
from tcan_live.batch.settings import BatchSettings
from tcan_live.core.settings import validate_settings
from tcan_live.core.tiff_files import write_tiff
from tcan_live.engine.load import load_engine
from tcan_live.sinks.omezarr import LayoutMismatchError
from tests.helpers.batch import (
    completions,
    filament_stack,
    initialized_chunks,
    journal,
    records,
    sr_array,
    write_ome_zarr,
    written_chunks,
)
from tests.helpers.daemon import build_tiny_engine

CHANNELS = ("microtubules", "actin")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("batch-engines")
    return {
        name: build_tiny_engine(folder / name, seed)
        for name, seed in zip(CHANNELS, (5, 6), strict=True)
    }


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with batch_client(None, ClusterPlan(workers=2, engine_threads=1), dashboard_address=None) as c:
        yield c


def settings(**fields: object) -> BatchSettings:
    document = {"fsync": False, "engine_threads": 1, **fields}
    return validate_settings(BatchSettings, document, origin="test")


def enhanced_alone(
    engine: Path, frames: np.ndarray, pixel_size_nm: float, **options: object
) -> list[np.ndarray]:
    """What the runtime gives frames enhanced one after another in this process."""
    loaded = load_engine(engine, threads=1)
    stream = loaded.enhancer(**options)
    try:
        return [stream.enhance(frame, pixel_size_nm).image for frame in frames]
    finally:
        loaded.close()


def test_every_frame_once_and_identical_to_the_runtime(
    client: Client, engines: dict[str, Path], tmp_path: Path
) -> None:
    stack = filament_stack(12)
    source = write_tiff(tmp_path / "cell.ome.tif", stack[:, None], 100.0)
    out = tmp_path / "cell.zarr"
    seen: list[int] = []
    summary = run_batch(
        settings(input=source, output=out, engine=engines["microtubules"]),
        client,
        on_progress=lambda progress: seen.append(progress.written),
    )
    assert (summary.frames, summary.written, summary.skipped, summary.failed) == (12, 12, 0, 0)
    assert len(summary.workers) == 2  # both worker processes enhanced frames
    assert seen[-1] == 12 and seen == sorted(seen)
    sr = sr_array(out)
    assert sr.shape == (12, 1, 128, 128) and written_chunks(out) == 12
    assert initialized_chunks(out) == 12
    assert completions(out) == {(t, "default"): 1 for t in range(12)}
    expected = enhanced_alone(engines["microtubules"], stack, 100.0)
    for t in range(12):
        np.testing.assert_array_equal(np.asarray(sr[t, 0]), expected[t])
    record = records(out, "sr")[(3, "default")]
    assert record["origin"] == f"batch:{source}#3" and record["pixel_size_nm"] == 100.0
    assert set(record["qc"]) == {"input_mean", "output_mean", "enhance_s"}
    # Frames enhanced several to a task (sharing tile batches) give the same pixels.
    grouped = tmp_path / "grouped.zarr"
    run_batch(
        settings(input=source, output=grouped, engine=engines["microtubules"], frames_per_task=5),
        client,
    )
    np.testing.assert_array_equal(np.asarray(sr_array(grouped)), np.asarray(sr))
    # A rerun finds everything done and writes nothing.
    again = run_batch(settings(input=source, output=out, engine=engines["microtubules"]), client)
    assert (again.already_done, again.written) == (12, 0)
    assert completions(out) == {(t, "default"): 1 for t in range(12)}


@pytest.mark.parametrize("mode", ["running", "fixed"])
def test_stream_normalisation_equals_the_sequential_stream(
    client: Client, engines: dict[str, Path], tmp_path: Path, mode: str
) -> None:
    # Bleaching two-channel time-lapse, one engine per channel, in an OME-Zarr image.
    stack = filament_stack(16).reshape(8, 2, 64, 64)
    stack = (stack * np.linspace(1.0, 0.5, 8)[:, None, None, None]).astype(np.uint16)
    source = write_ome_zarr(tmp_path / "cells.zarr", stack, CHANNELS, 0.1)
    out = tmp_path / f"sr-{mode}.zarr"
    summary = run_batch(
        settings(input=source, output=out, engine_for=engines, normalization=mode, fixed_frames=3),
        client,
    )
    assert summary.written == 16
    sr = sr_array(out)
    for c, channel in enumerate(CHANNELS):
        expected = enhanced_alone(
            engines[channel], stack[:, c], 100.0, mode=mode, fixed_frames=3, running_frames=5.0
        )
        for t in range(8):
            np.testing.assert_array_equal(np.asarray(sr[t, c]), expected[t])
    # The store carries the input's time increment and both channels, in order.
    group = zarr.open_group(out / "sr" / "0", mode="r")
    ome: Any = group.attrs["ome"]
    assert [c["label"] for c in ome["omero"]["channels"]] == list(CHANNELS)
    assert ome["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"][0] == 2.0


def test_a_worker_killed_mid_run_loses_no_frame_and_doubles_none(
    client: Client, engines: dict[str, Path], tmp_path: Path
) -> None:
    stack = filament_stack(40)
    source = write_tiff(tmp_path / "long.tif", stack[:, None], 100.0)
    out = tmp_path / "long.zarr"
    cluster = client.cluster
    assert cluster is not None
    victim = next(iter(cluster.workers.values())).process.pid
    killed: list[int] = []

    def kill_once(progress: BatchProgress) -> None:
        if progress.written >= 6 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(progress.written)

    summary: BatchSummary = run_batch(
        settings(input=source, output=out, engine=engines["microtubules"]),
        client,
        on_progress=kill_once,
    )
    assert killed and killed[0] < 40  # killed while frames were still to do
    assert summary.written == 40 and summary.failed == 0
    assert str(victim) in {worker.rsplit(" ", 1)[1] for worker in summary.workers}
    assert not psutil.pid_exists(victim)
    assert completions(out) == {(t, "default"): 1 for t in range(40)}
    assert written_chunks(out) == 40
    expected = enhanced_alone(engines["microtubules"], stack, 100.0)
    sr = sr_array(out)
    for t in range(40):
        np.testing.assert_array_equal(np.asarray(sr[t, 0]), expected[t])
    client.wait_for_workers(2)  # the nanny has started a replacement


def test_bad_frames_are_recorded_and_the_rest_goes_on(
    client: Client, engines: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "frames"
    stack = filament_stack(6).astype(np.float32)
    stack[1, 5, 5] = np.inf
    for t in range(6):
        size = 1.0 if t == 2 else 100.0  # 50x finer than the engine's 50 nm: refused
        image = stack[t, :48] if t == 3 else stack[t]  # another shape than the rest
        write_tiff(folder / f"f{t:02d}.tif", image, size)
    truncated = folder / "f04.tif"
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])  # a copy still under way
    out = tmp_path / "bad.zarr"
    run = settings(input=folder, output=out, engine=engines["microtubules"])
    summary = run_batch(run, client)
    assert (summary.written, summary.skipped, summary.failed) == (2, 3, 1)
    reasons = {key.t: reason for key, reason in summary.failures}
    assert "1 NaN/inf pixels: expected finite values" in reasons[1]
    assert "pixel size 1 nm is 50.0x from the engine's 50 nm" in reasons[2]
    assert "shape (96, 128), expected (128, 128)" in reasons[3]
    assert reasons[4].startswith("not completely written (pixel data end at byte")
    assert reasons[4].endswith("run again once the file is complete")
    skipped = records(out, "skip")
    assert sorted(skipped) == [(1, "default"), (2, "default"), (3, "default")]
    assert records(out, "failed")[(4, "default")]["reason"] == reasons[4]
    assert written_chunks(out) == 2
    # The copy completes; the rerun does the failed frame only, and it is then done once.
    truncated.write_bytes(whole)
    rerun = run_batch(run, client)
    assert (rerun.already_done, rerun.written, rerun.failed) == (5, 1, 0)
    assert completions(out) == {(t, "default"): 1 for t in range(6)}
    expected = enhanced_alone(engines["microtubules"], stack[4:5], 100.0)
    np.testing.assert_array_equal(np.asarray(sr_array(out)[4, 0]), expected[0])
    assert [r["event"] for r in journal(out) if r["t"] == 4] == ["failed", "sr"]


def test_a_store_of_another_run_is_refused(
    client: Client, engines: dict[str, Path], tmp_path: Path
) -> None:
    source = write_tiff(tmp_path / "a.tif", filament_stack(2)[:, None], 100.0)
    out = tmp_path / "a.zarr"
    run_batch(settings(input=source, output=out, engine=engines["actin"]), client)
    other = write_tiff(tmp_path / "b.tif", filament_stack(2)[:, None], 80.0)
    with pytest.raises(LayoutMismatchError, match=r"raw_pixel_size_nm 100\.0 != 80\.0"):
        run_batch(settings(input=other, output=out, engine=engines["actin"]), client)
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, filament_stack(2))
    with pytest.raises(ValueError, match=r"no usable frame to start with.*no pixel size"):
        run_batch(
            settings(input=plain, output=tmp_path / "p.zarr", engine=engines["actin"]), client
        )


def test_a_taken_dashboard_port_is_no_error(tmp_path: Path) -> None:
    """Another Dask dashboard on 8787 (or anything there): the local cluster takes another port."""
    import socket

    from tcan_live.batch.cluster import dashboard_link

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("", 8787))
            holder.listen()
        except OSError:
            pass  # something already holds it: the same situation
        with batch_client(None, ClusterPlan(workers=1, engine_threads=1)) as client:
            assert client.submit(sum, [1, 2]).result() == 3
            link = dashboard_link(client)
    assert link is None or ":8787/" not in link
