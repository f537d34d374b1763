"""``tcan-live bench pipeline``: the whole daemon path against the engine alone, in one run.

Frames (a simulated time-lapse, replayed in loops with unique time indices) go through the
replay source, the pipeline's durable raw store, the per-channel enhancer and the OME-Zarr
writer, exactly as in an acquisition. In the same run the engine alone enhances the same
frames (same enhancer, same batching), so the ratio of the two throughputs says what the
daemon costs. Three runs are measured:

* ``saturated``: the source is faster than the engine (as fast as possible); the pipeline's
  sustained throughput is compared with the engine's;
* ``saturated-pz``: the same frames as an acquisition of 2 positions x 5 z slices per time
  point (an image per position, z growing): what the full acquisition index costs against the
  time-lapse path;
* ``paced``: the source runs at ``paced_fraction`` of the engine's measured frame rate; the
  backlog must not grow;
* ``live`` and ``live-newest-first`` (with ``live``): the camera runs ``camera_factor`` times
  faster than the engine, with previews published (a real ZeroMQ publisher), in acquisition
  order and newest-first: each frame's arrival-to-preview latency against one engine call (one
  frame alone through the enhancer), with every frame still stored exactly once.

Resident memory is sampled throughout; its growth is measured from the end of a warm-up
(the first tenth of the frames) to the end. Latency drift is the median latency of the last
tenth of the frames over that of the first tenth (meaningful in the paced run, where the
source does not outrun the engine).
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from tcan_live.core.acquisition import ChannelInfo, Frame, Position
from tcan_live.engine.loaded_engine import Engine
from tcan_live.pipeline.limits import EnhanceOrder, PipelineLimits
from tcan_live.pipeline.pipeline import Pipeline
from tcan_live.pipeline.preview_feed import PreviewFeed
from tcan_live.preview.config import PreviewConfig
from tcan_live.preview.publisher import PreviewPublisher
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink
from tcan_live.sinks.rejected import RejectedFrames
from tcan_live.sinks.store_layout import open_sr, rejected_dir, stored_images
from tcan_live.sources.replay import ReplaySource

_MB = 1024 * 1024
CHANNEL = ChannelInfo("microtubules", "FF00FF")
MULTIDIM = (2, 5)  # positions, z slices of the saturated-pz run


@dataclass
class PipelineRun:
    """What one pipeline run at one acquisition rate measured."""

    mode: str
    rate_hz: float
    frames: int
    seconds: float
    pipeline_mp_per_s: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    backlog_max: int
    backlog_slope_per_s: float
    in_memory_peak: int
    rss_growth_mb: float
    frames_lost: int
    latency_drift: float
    frames_in_store: int
    preview_latency_ms_p50: float = float("nan")
    preview_latency_ms_p99: float = float("nan")
    previews_shown: int = 0
    samples: list[dict[str, float]] = field(default_factory=list)


def timelapse_frames(count: int, size: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """Return a (count, 1, size, size) uint16 simulated microtubule movie and its pixel size."""
    from tcan_live.simulate import SimulationConfig
    from tcan_live.simulate.timelapse import simulate_timelapse

    rng = np.random.default_rng(seed)
    config = SimulationConfig()
    movie = simulate_timelapse(("microtubules",), count, size, rng, config)
    stack = np.clip(np.rint(movie.lr), 0, 65535).astype(np.uint16)
    return stack, float(movie.pixel_size_nm)


def engine_only(engine: Engine, stack: np.ndarray, pixel_size_nm: float, batch: int) -> float:
    """Input megapixels per second of the engine alone, batching as the pipeline does."""
    enhancer = engine.enhancer(mode="running")
    frames = [(stack[t, 0], pixel_size_nm) for t in range(stack.shape[0])]
    enhancer.enhance_many(frames[:batch])  # warm-up: arenas, first-call costs
    start = time.perf_counter()
    for first in range(0, len(frames), batch):
        enhancer.enhance_many(frames[first : first + batch])
    elapsed = time.perf_counter() - start
    return stack[:, 0].size / 1e6 / elapsed


def frames_in_store(store: Path) -> int:
    """Super-resolved frames present in an OME-Zarr store, counted by zarr itself.

    The store writes one chunk per frame, so the initialised chunks of every image's
    full-resolution ``sr`` array are the frames that reached the disk.
    """
    return sum(
        int(open_sr(store, image.series).nchunks_initialized) for image in stored_images(store)
    )


def as_multidim(frame: Frame, k: int, positions: int, slices: int) -> Frame:
    """Frame ``k`` of a time-lapse re-indexed as (t, p, z) of a positions x slices acquisition."""
    per_t = positions * slices
    return dataclasses.replace(
        frame,
        t=k // per_t,
        z=k % slices,
        position=Position(index=(k // slices) % positions),
    )


def _slope(times: list[float], values: list[float]) -> float:
    if len(times) < 3:
        return 0.0
    return float(np.polyfit(np.array(times), np.array(values, dtype=float), 1)[0])


def run_pipeline(
    engine: Engine,
    stack: np.ndarray,
    pixel_size_nm: float,
    *,
    frames: int,
    rate_hz: float,
    mode: str,
    limits: PipelineLimits,
    workdir: Path,
    sample_every_s: float = 0.25,
    multidim: tuple[int, int] | None = None,
    preview_order: EnhanceOrder | None = None,
) -> PipelineRun:
    """Replay ``frames`` frames through a fresh pipeline and store; measure as it runs.

    ``multidim`` (positions, slices) re-indexes the frames as that acquisition.
    ``preview_order``: publish previews (loopback ZeroMQ, nobody subscribed) with the
    pipeline enhancing in that order.
    """
    out = workdir / f"{mode}.zarr"
    store = OmeZarrSink(OutputConfig(path=out, fsync=False))
    publisher = None
    if preview_order is not None:
        limits = limits.model_copy(update={"order": preview_order})
        publisher = PreviewPublisher(PreviewConfig(address="tcp://127.0.0.1:*"))
    pipeline = Pipeline(
        (CHANNEL,),
        {CHANNEL.name: engine.enhancer(mode="running")},
        store,
        [store],
        rejected=RejectedFrames(rejected_dir(out)),
        previews=PreviewFeed(publisher, (CHANNEL,)) if publisher is not None else None,
        limits=limits,
    )
    loops = -(-frames // stack.shape[0])
    source = ReplaySource.from_stack(
        stack, [CHANNEL.name], pixel_size_nm, rate_hz=rate_hz, loops=loops
    )
    process = psutil.Process()
    samples: list[dict[str, float]] = []
    stop_sampling = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stop_sampling.wait(sample_every_s):
            snap = pipeline.stats.snapshot()
            samples.append(
                {
                    "t_s": time.monotonic() - start,
                    "rss_mb": process.memory_info().rss / _MB,
                    "received": snap.received,
                    "enhanced": snap.enhanced,
                    "backlog": snap.backlog,
                    "in_memory": snap.in_memory,
                }
            )

    submitted = 0
    limit_reached = threading.Event()

    def emit(frame: Any) -> None:
        nonlocal submitted
        if submitted < frames:
            if multidim is not None:
                frame = as_multidim(frame, submitted, *multidim)
            pipeline.submit(frame)
            submitted += 1
            if submitted == frames:
                limit_reached.set()

    sampler = threading.Thread(target=sample, name="bench-sampler", daemon=True)
    pipeline.start()
    sampler.start()
    source.start(emit)
    limit_reached.wait()
    source.stop()
    idle = pipeline.wait_idle(timeout=3600)
    elapsed = time.monotonic() - start
    stop_sampling.set()
    sampler.join()
    pipeline.stop()
    store.close()
    if publisher is not None:
        publisher.close()
    in_store = frames_in_store(out)
    snap = pipeline.stats.snapshot()
    latencies = pipeline.stats.latencies_ms()
    tenth = max(1, len(latencies) // 10)
    drift = (
        float(np.median(latencies[-tenth:]) / max(float(np.median(latencies[:tenth])), 1e-9))
        if latencies
        else float("nan")
    )
    # Never received, or neither enhanced nor skipped (a backlog left after the time-out).
    lost = snap.frames_lost + (frames - snap.received) + (0 if idle else snap.backlog)
    lost = max(lost, frames - in_store)  # what the store itself holds has the last word
    warm = [s for s in samples if s["received"] >= frames / 10] or samples
    growth = (warm[-1]["rss_mb"] - warm[0]["rss_mb"]) if warm else 0.0
    paced = [s for s in samples if s["received"] < frames]  # while frames were arriving
    return PipelineRun(
        mode=mode,
        rate_hz=rate_hz,
        frames=frames,
        seconds=elapsed,
        pipeline_mp_per_s=snap.megapixels_in / elapsed,
        latency_ms_p50=snap.latency_ms_p50,
        latency_ms_p95=snap.latency_ms_p95,
        latency_ms_p99=snap.latency_ms_p99,
        backlog_max=max((int(s["backlog"]) for s in samples), default=0),
        backlog_slope_per_s=_slope([s["t_s"] for s in paced], [s["backlog"] for s in paced]),
        in_memory_peak=snap.in_memory_peak,
        rss_growth_mb=growth,
        frames_lost=lost,
        latency_drift=drift,
        frames_in_store=in_store,
        preview_latency_ms_p50=snap.preview_latency_ms_p50,
        preview_latency_ms_p99=snap.preview_latency_ms_p99,
        previews_shown=len(pipeline.stats.preview_latencies_ms()),
        samples=samples,
    )


def _engine_alone(
    engine_dir: Path,
    frames: int,
    size: int,
    limits: PipelineLimits,
    log: Callable[[str], None],
) -> tuple[Engine, np.ndarray, float, float]:
    """Load the engine, simulate the frames to replay, measure the engine alone on them."""
    from tcan_live.engine.load import load_engine

    engine = load_engine(engine_dir)
    stack, pixel_size_nm = timelapse_frames(min(frames, 20), size)
    log(f"engine alone on {stack.shape[0]} frames of {size} x {size}")
    return (
        engine,
        stack,
        pixel_size_nm,
        engine_only(engine, stack, pixel_size_nm, limits.batch_frames),
    )


def _median_run(runs: list[PipelineRun]) -> PipelineRun:
    """Return the run of median throughput (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda run: run.pipeline_mp_per_s)
    return ordered[(len(ordered) - 1) // 2]


def bench_pipeline(
    engine_dir: Path,
    *,
    frames: int = 200,
    size: int = 256,
    paced_fraction: float = 0.5,
    limits: PipelineLimits | None = None,
    repeats: int = 1,
    live_frames: int = 0,
    camera_factor: float = 1.5,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Measure engine-only and pipeline throughput side by side; return the JSON report.

    ``repeats``: the two saturated runs (time-lapse and positions x z) are each made this many
    times, in alternating order; the report gives each one's median run, and the median over
    the turns of the ratio of a turn's two runs (measured back to back).
    ``live_frames``: also the two live runs of that many frames (0: none), the camera
    ``camera_factor`` times faster than one engine call.
    """
    limits = limits or PipelineLimits()
    engine, stack, pixel_size_nm, engine_mp_per_s = _engine_alone(
        engine_dir, frames, size, limits, log
    )
    engine_fps = engine_mp_per_s / (size * size / 1e6)
    call_s = 0.0
    if live_frames:
        log("engine alone, one frame per call")
        call_s = (size * size / 1e6) / engine_only(engine, stack, pixel_size_nm, 1)
    runs = []
    with tempfile.TemporaryDirectory(prefix="tcan-bench-") as workdir:
        pair = [("saturated", 0.0, None), ("saturated-pz", 0.0, MULTIDIM)]
        plans = []
        for turn in range(repeats):  # alternating order: drifting machine load cancels out
            plans.extend(pair if turn % 2 == 0 else pair[::-1])
        plans.append(("paced", paced_fraction * engine_fps, None))
        live_plans: list[tuple[str, EnhanceOrder]] = []
        if live_frames:
            live_plans = [("live", "acquisition"), ("live-newest-first", "newest-first")]
        for number, (mode, rate, multidim) in enumerate(plans):
            log(f"pipeline, {mode}: {frames} frames at {rate or 'max'} frames/s")
            folder = Path(workdir) / str(number)
            folder.mkdir()
            runs.append(
                run_pipeline(
                    engine,
                    stack,
                    pixel_size_nm,
                    frames=frames,
                    rate_hz=rate,
                    mode=mode,
                    limits=limits,
                    workdir=folder,
                    multidim=multidim,
                )
            )
        live_runs = []
        for mode, order in live_plans:
            rate = camera_factor / call_s
            log(f"pipeline, {mode}: {live_frames} frames at {rate:.2f} frames/s, previews")
            folder = Path(workdir) / mode
            folder.mkdir()
            live_runs.append(
                run_pipeline(
                    engine,
                    stack,
                    pixel_size_nm,
                    frames=live_frames,
                    rate_hz=rate,
                    mode=mode,
                    limits=limits,
                    workdir=folder,
                    preview_order=order,
                )
            )
    engine.close()
    paced = next(run for run in runs if run.mode == "paced")
    saturated = _median_run([run for run in runs if run.mode == "saturated"])
    multidim_run = _median_run([run for run in runs if run.mode == "saturated-pz"])
    # Each turn's two runs ran back to back: their ratio is what the load drift spoils least.
    turns = [sorted(runs[2 * k : 2 * k + 2], key=lambda run: run.mode) for k in range(repeats)]
    ratios = [pz.pipeline_mp_per_s / tc.pipeline_mp_per_s for tc, pz in turns]
    return {
        "engine": str(engine_dir),
        "frames": frames,
        "size": size,
        "engine_mp_per_s": engine_mp_per_s,
        "pipeline_mp_per_s": saturated.pipeline_mp_per_s,
        "pipeline_vs_engine": saturated.pipeline_mp_per_s / engine_mp_per_s,
        "multidim_mp_per_s": multidim_run.pipeline_mp_per_s,
        "multidim_vs_timelapse": float(np.median(ratios)),
        "multidim_vs_timelapse_per_turn": ratios,
        "latency_ms_p50": saturated.latency_ms_p50,
        "latency_ms_p99": saturated.latency_ms_p99,
        "paced_rate_hz": paced.rate_hz,
        "paced_latency_ms_p50": paced.latency_ms_p50,
        "paced_latency_ms_p99": paced.latency_ms_p99,
        "paced_backlog_max": paced.backlog_max,
        "paced_backlog_slope_per_s": paced.backlog_slope_per_s,
        "paced_latency_drift": paced.latency_drift,
        "rss_growth_mb": max(saturated.rss_growth_mb, paced.rss_growth_mb),
        "repeats": repeats,
        **_live_report(live_runs, call_s, camera_factor),
        "frames_lost": sum(run.frames_lost for run in runs + live_runs),
        "runs": [asdict(run) for run in runs + live_runs],
    }


def _live_report(runs: list[PipelineRun], call_s: float, camera_factor: float) -> dict[str, Any]:
    """Return the live runs' preview latencies against one engine call (empty: no live runs)."""
    if not runs:
        return {}
    report: dict[str, Any] = {
        "engine_call_ms": call_s * 1e3,
        "live_camera_factor": camera_factor,
        "live_frames": runs[0].frames,
    }
    for run in runs:
        name = run.mode.replace("-", "_")
        report[f"{name}_preview_latency_ms_p50"] = run.preview_latency_ms_p50
        report[f"{name}_preview_latency_ms_p99"] = run.preview_latency_ms_p99
        report[f"{name}_p50_over_engine_call"] = run.preview_latency_ms_p50 / (call_s * 1e3)
        report[f"{name}_previews_shown"] = run.previews_shown
        report[f"{name}_frames_in_store"] = run.frames_in_store
        report[f"{name}_backlog_max"] = run.backlog_max
    return report


def soak(
    engine_dir: Path,
    *,
    frames: int = 10_000,
    size: int = 256,
    paced_fraction: float = 0.85,
    limits: PipelineLimits | None = None,
    sample_every_s: float = 5.0,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """One long paced run, as an unattended acquisition: losses, memory and latency over time.

    The acquisition rate is ``paced_fraction`` of the engine's frame rate measured first in the
    same run. Returns the JSON report: frames lost (by the pipeline's counters and by counting
    the frames in the store with zarr), resident memory over time and its growth after the
    warm-up, latency percentiles and drift (last tenth over first tenth), backlog.
    """
    limits = limits or PipelineLimits()
    engine, stack, pixel_size_nm, engine_mp_per_s = _engine_alone(
        engine_dir, frames, size, limits, log
    )
    rate = paced_fraction * engine_mp_per_s / (size * size / 1e6)
    log(f"soak: {frames} frames of {size} x {size} at {rate:.2f} frames/s")
    with tempfile.TemporaryDirectory(prefix="tcan-soak-") as workdir:
        run = run_pipeline(
            engine,
            stack,
            pixel_size_nm,
            frames=frames,
            rate_hz=rate,
            mode="soak",
            limits=limits,
            workdir=Path(workdir),
            sample_every_s=sample_every_s,
        )
    engine.close()
    return {
        "engine": str(engine_dir),
        "frames": frames,
        "size": size,
        "engine_mp_per_s": engine_mp_per_s,
        "rate_hz": rate,
        "seconds": run.seconds,
        "frames_lost": run.frames_lost,
        "frames_in_store": run.frames_in_store,
        "rss_growth_mb": run.rss_growth_mb,
        "rss_mb_over_time": [(s["t_s"], s["rss_mb"]) for s in run.samples],
        "latency_ms_p50": run.latency_ms_p50,
        "latency_ms_p99": run.latency_ms_p99,
        "latency_drift": run.latency_drift,
        "backlog_max": run.backlog_max,
        "backlog_slope_per_s": run.backlog_slope_per_s,
        "runs": [asdict(run)],
    }
