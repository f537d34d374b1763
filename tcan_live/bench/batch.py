"""``tcan-live bench batch``: ``tcan-live batch`` on local clusters of different sizes, in one run.

One simulated time-lapse is written as a TIFF stack, then super-resolved by ``run_batch`` on a
fresh ``LocalCluster`` per configuration (workers x engine threads), each into its own store,
and by the engine alone in this process for reference. Every store must hold every frame
once, with the same pixels as the first; the report gives each run's throughput (input
megapixels per second of the tasks, after the cluster has started), its ratio to the first
configuration, the CPU time its own processes used per second of it (what bounds the
speed-up) and how busy the whole machine was (on a shared machine other work shows as the
difference, and in the load average). With ``repeats`` the configurations take turns that
many times and each keeps its fastest run, so a burst of other work weighs on all alike.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from tcan_live.batch.cluster import ClusterPlan, batch_client
from tcan_live.batch.run import run_batch
from tcan_live.batch.settings import BatchSettings
from tcan_live.bench.pipeline import engine_only, timelapse_frames
from tcan_live.core.tiff_files import write_tiff
from tcan_live.engine.load import load_engine
from tcan_live.engine.ort_backend import cpu_threads
from tcan_live.sinks.store_layout import open_sr


@dataclass(frozen=True)
class BatchRun:
    """What one cluster configuration measured."""

    workers: int
    engine_threads: int
    frames: int
    seconds: float
    megapixels_per_s: float
    speedup: float
    cluster_start_s: float
    cpu_busy_percent: float
    own_cpu_percent: float
    load_average: float
    written: int
    chunks: int
    identical_to_first: bool


def parse_configurations(text: str) -> list[ClusterPlan]:
    """Parse ``"1x1,2x1"`` (WORKERSxTHREADS, comma-separated) into cluster plans.

    Raises
    ------
    ValueError
        Naming the entry that is not two positive integers joined by ``x``.
    """
    plans = []
    for entry in text.split(","):
        workers, _, threads = entry.strip().partition("x")
        if not (workers.isdigit() and threads.isdigit() and int(workers) and int(threads)):
            raise ValueError(f"--runs {entry.strip()!r}: expected WORKERSxTHREADS, e.g. 2x1")
        plans.append(ClusterPlan(int(workers), int(threads)))
    return plans


def _cpu_busy() -> tuple[float, float]:
    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0), sum(times)


def _own_cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """CPU seconds used so far by this process and the cluster's (client, scheduler, workers)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def bench_batch(
    engine: Path,
    *,
    frames: int,
    size: int,
    configurations: Sequence[ClusterPlan],
    frames_per_task: int = 1,
    repeats: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``tcan-live batch`` per configuration on the same frames; return the report."""
    stack, pixel_size_nm = timelapse_frames(frames, size)
    loaded = load_engine(engine)
    try:
        log(f"engine alone in this process ({cpu_threads()} threads), {frames} frames")
        engine_mp_per_s = engine_only(loaded, stack, pixel_size_nm, 1)
    finally:
        loaded.close()
    best: dict[int, BatchRun] = {}
    wrong: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="tcan-bench-batch-") as folder:
        source = write_tiff(Path(folder) / "timelapse.ome.tif", stack, pixel_size_nm)
        first: np.ndarray | None = None
        for turn, (index, plan) in enumerate(
            (i, p) for _ in range(repeats) for i, p in enumerate(configurations)
        ):
            log(f"batch on {plan.workers} workers x {plan.engine_threads} engine threads")
            out = Path(folder) / f"run{turn}.zarr"
            settings = BatchSettings(
                input=source,
                output=out,
                engine=engine,
                frames_per_task=frames_per_task,
                fsync=False,
                engine_threads=plan.engine_threads,
            )
            started = time.perf_counter()
            with batch_client(None, plan, dashboard_address=None) as client:
                client.wait_for_workers(plan.workers)
                cluster_start_s = time.perf_counter() - started
                ours = [psutil.Process(), *psutil.Process().children(recursive=True)]
                own_before, (idle_before, total_before) = _own_cpu_seconds(ours), _cpu_busy()
                summary = run_batch(settings, client)
                own_after, (idle_after, total_after) = _own_cpu_seconds(ours), _cpu_busy()
                load_average = os.getloadavg()[0]
            sr = open_sr(out)
            pixels = np.asarray(sr)
            first = pixels if first is None else first
            busy = 1.0 - (idle_after - idle_before) / max(total_after - total_before, 1e-9)
            run = BatchRun(
                workers=plan.workers,
                engine_threads=plan.engine_threads,
                frames=summary.frames,
                seconds=summary.seconds,
                megapixels_per_s=summary.megapixels_per_s,
                speedup=1.0,
                cluster_start_s=cluster_start_s,
                cpu_busy_percent=100.0 * busy * psutil.cpu_count(),
                own_cpu_percent=100.0 * (own_after - own_before) / max(summary.seconds, 1e-9),
                load_average=load_average,
                written=summary.written,
                chunks=int(sr.nchunks_initialized),
                identical_to_first=bool(np.array_equal(pixels, first)),
            )
            right = run.identical_to_first and run.chunks == run.written == frames
            if not right:
                best[index] = run  # a wrong run is reported, however fast
                wrong.add(index)
            elif index not in wrong and (
                index not in best or run.megapixels_per_s > best[index].megapixels_per_s
            ):
                best[index] = run
    base = best[0].megapixels_per_s
    runs = [replace(best[i], speedup=best[i].megapixels_per_s / base) for i in sorted(best)]
    return {
        "frames": frames,
        "size": size,
        "engine": str(engine),
        "frames_per_task": frames_per_task,
        "repeats": repeats,
        "physical_cores": cpu_threads(),
        "logical_cpus": psutil.cpu_count(),
        "engine_alone_mp_per_s": engine_mp_per_s,
        "runs": [asdict(run) for run in runs],
    }
