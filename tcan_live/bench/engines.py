"""``tcan-live bench engine``: built engines against torch eager fp32 and the machine's rate.

Every run pushes the same frames through the full runtime (:class:`tcan_live.runtime.Engine`:
normalisation, tiling with the engine's tile, halo and batch, blending), so the figures are
what an acquisition would see. The torch eager baseline runs the engine's own checkpoint
(verified by its SHA-256 from the manifest) with the same tile, halo and batch size. Runs
alternate across repeats so that load from other processes spreads over all of them, and
each run's best repeat is reported. The machine's own matmul and convolution rates are
measured in the same run (before and after the runners, best kept), and each run's achieved
network FLOP/s is given as a fraction of them.
"""

from __future__ import annotations

import gc
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.bench.machine_rate import MachineRate, measure_machine_rate
from tcan_live.bench.memory import PeakMemory, peak_memory
from tcan_live.engine.load import load_engine
from tcan_live.engine.loaded_engine import Engine
from tcan_live.engine.machine import cuda_device, installed_version
from tcan_live.engine.manifest import EngineError, EngineManifest, read_manifest, sha256_file
from tcan_live.engine.parity import filament_image
from tcan_live.model.complexity import flops_per_pixel_at
from tcan_live.runtime.tiling import TilePlan, choose_tile


@dataclass(frozen=True)
class BenchRun:
    """One row of the benchmark: a runner's best repeat on the shared frames."""

    label: str
    engine: str | None  # engine folder, None for the torch eager baseline
    backend: str
    precision: str
    preset: str
    scale: int
    tile: int
    halo: int
    max_batch: int
    frames: int
    size: int
    seconds: tuple[float, ...]  # wall time of the timed frames, per repeat
    megapixels_per_s: float  # input megapixels per second, best repeat
    peak_rss_mb: float
    rss_increase_mb: float
    peak_cuda_mb: float | None
    speedup_vs_eager: float | None
    tile_sizes: tuple[int, ...] = ()
    frame_tile: int = 0  # the tile the runtime picked for these frames
    halo_overhead: float = 0.0  # pixels the network computes per input pixel
    network_gflop_per_s: float = 0.0  # achieved, from the network's FLOPs per computed pixel
    fraction_of_matmul: float = 0.0  # of the machine's measured matmul rate
    fraction_of_conv: float = 0.0  # of the machine's measured 3 x 3 convolution rate
    speedup_vs_first: float | None = None  # against the first engine given


@dataclass
class _Runner:
    label: str
    folder: str | None
    manifest: EngineManifest
    open: Callable[[], Engine]
    backend: str
    precision: str
    baseline: str | None = None  # label of its torch eager baseline
    seconds: list[float] | None = None
    memory: PeakMemory | None = None


def bench_frames(count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` uint16 frames of simulated filaments (12-bit camera range, offset 100)."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(filament_image(size, rng) * 3000.0 + 100.0, 0, 4095).astype(np.uint16)
        for _ in range(count)
    ]


def baseline_checkpoint(manifest: EngineManifest, folder: Path, override: Path | None) -> Path:
    """Return the engine's checkpoint for the eager baseline, checked by its hash."""
    path = override or Path(manifest.checkpoint_path)
    if not path.is_file() or sha256_file(path) != manifest.checkpoint_sha256:
        raise EngineError(
            f"{folder}: the torch eager baseline needs the engine's checkpoint "
            f"{manifest.checkpoint_name} (sha256 {manifest.checkpoint_sha256[:12]}...); "
            f"{path} is {'not it' if path.is_file() else 'missing'}: pass --checkpoint"
        )
    return path


def _runners(folders: Sequence[Path], checkpoint: Path | None, device: str) -> list[_Runner]:
    runners: list[_Runner] = []
    baselines: dict[tuple[str, tuple[int, ...], int, int], _Runner] = {}
    for folder in folders:
        manifest = read_manifest(folder)
        tiles = manifest.tile_sizes
        key = (manifest.checkpoint_sha256, tiles, manifest.halo, manifest.max_batch)
        if key not in baselines:
            source = baseline_checkpoint(manifest, folder, checkpoint)

            def eager(m: EngineManifest = manifest, path: Path = source) -> Engine:
                return Engine.from_checkpoint(
                    path,
                    tile=m.tile,
                    halo=m.halo,
                    max_batch=m.max_batch,
                    device=device,
                    extra_tiles=m.tile_sizes[1:],
                )

            sizes = "/".join(map(str, tiles))
            label = f"torch eager fp32 ({manifest.checkpoint_name}, tile {sizes})"
            baselines[key] = _Runner(label, None, manifest, eager, f"torch-eager/{device}", "fp32")
            runners.append(baselines[key])

        runners.append(
            _Runner(
                str(folder),
                str(folder),
                manifest,
                partial(load_engine, folder),
                manifest.backend,
                manifest.precision,
                baselines[key].label,
            )
        )
    return runners


def _measure(runner: _Runner, frames: Sequence[np.ndarray]) -> tuple[float, PeakMemory]:
    """Load, warm up on one frame, then time all frames; memory covers all three."""
    pixel_size = runner.manifest.pixel_size_nm
    gc.collect()
    with peak_memory() as memory:
        engine = runner.open()
        try:
            engine.enhance(frames[0], pixel_size)  # first-call costs: arenas, compilation
            start = time.perf_counter()
            for frame in frames:
                engine.enhance(frame, pixel_size)
            seconds = time.perf_counter() - start
        finally:
            engine.close()
    return seconds, memory


def run_bench(
    engines: Sequence[str | Path],
    *,
    frames: int = 3,
    size: int = 512,
    repeats: int = 1,
    checkpoint: str | Path | None = None,
    device: str | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[list[BenchRun], MachineRate]:
    """Measure torch eager fp32, each engine and the machine's rates on the same frames.

    Parameters
    ----------
    engines
        Engine folders (from ``tcan-live build-engine``).
    frames, size
        Number and side length of the simulated uint16 frames, given at each engine's
        training pixel size (no resampling).
    repeats
        Rounds over all runners; the best round of each is reported.
    checkpoint
        The engines' checkpoint, where the path recorded in a manifest is not valid here.
    device
        Device of the torch eager baseline (default: CUDA when present, else CPU).

    Returns
    -------
    tuple[list[BenchRun], MachineRate]
        Baselines first, each engine after its baseline, with its speed-ups (over its eager
        baseline and over the first engine) and its fraction of the machine's rates; and those
        rates (best of a measurement before and one after the runners).
    """
    if frames < 1 or size < 32 or repeats < 1:
        raise ValueError("--frames and --repeats must be at least 1 and --size at least 32")
    device = device or ("cuda" if cuda_device() else "cpu")
    override = Path(checkpoint) if checkpoint is not None else None
    runners = _runners([Path(e) for e in engines], override, device)
    shared = bench_frames(frames, size)
    log(f"measuring the machine's matmul and convolution rates ({device})")
    rates = [measure_machine_rate(device)]
    for round_index in range(repeats):
        for runner in runners:
            log(f"round {round_index + 1}/{repeats}: {runner.label}")
            seconds, memory = _measure(runner, shared)
            runner.seconds = [*(runner.seconds or []), seconds]
            if runner.memory is None or memory.peak_rss_mb > runner.memory.peak_rss_mb:
                runner.memory = memory
    rates.append(measure_machine_rate(device))
    rate = MachineRate(
        device=device,
        dtype=rates[0].dtype,
        matmul_flops=max(r.matmul_flops for r in rates),
        conv_flops=max(r.conv_flops for r in rates),
        matmul_shape=rates[0].matmul_shape,
        conv_shape=rates[0].conv_shape,
    )
    megapixels = frames * size * size / 1e6
    best = {r.label: megapixels / min(r.seconds or [float("inf")]) for r in runners}
    first_engine = next((r.label for r in runners if r.folder is not None), None)
    runs = []
    for r in runners:
        memory = r.memory or PeakMemory()
        m = r.manifest
        tile = choose_tile((size, size), m.tile_sizes, m.halo, m.tile_costs)
        plan = TilePlan.for_frame((size, size), tile, m.halo, m.scale)
        frame_flops = (  # an engine imported from a foreign package: its FLOPs are unknown
            plan.computed_pixels * flops_per_pixel_at(m.architecture, plan.tile)
            if m.architecture is not None
            else math.nan
        )
        achieved = best[r.label] * 1e6 / (size * size) * frame_flops
        runs.append(
            BenchRun(
                label=r.label,
                engine=r.folder,
                backend=r.backend,
                precision=r.precision,
                preset=m.preset,
                scale=m.scale,
                tile=m.tile,
                halo=m.halo,
                max_batch=m.max_batch,
                frames=frames,
                size=size,
                seconds=tuple(r.seconds or ()),
                megapixels_per_s=best[r.label],
                peak_rss_mb=memory.peak_rss_mb,
                rss_increase_mb=memory.rss_increase_mb,
                peak_cuda_mb=memory.peak_cuda_mb,
                speedup_vs_eager=best[r.label] / best[r.baseline] if r.baseline else None,
                tile_sizes=m.tile_sizes,
                frame_tile=plan.tile,
                halo_overhead=plan.overhead,
                network_gflop_per_s=achieved / 1e9,
                fraction_of_matmul=achieved / rate.matmul_flops,
                fraction_of_conv=achieved / rate.conv_flops,
                speedup_vs_first=(
                    best[r.label] / best[first_engine] if r.folder and first_engine else None
                ),
            )
        )
    return runs, rate


def machine_description() -> dict[str, Any]:
    """Describe the machine the figures were measured on."""
    import psutil

    gpu = cuda_device()
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "logical_cpus": psutil.cpu_count(),
        "physical_cpus": psutil.cpu_count(logical=False),
        "load_average": list(psutil.getloadavg()),
        "torch": installed_version("torch"),
        "onnxruntime": installed_version("onnxruntime"),
        "openvino": installed_version("openvino"),
        "gpu": None if gpu is None else asdict(gpu),
    }


def bench_report(runs: Sequence[BenchRun], repeats: int, rate: MachineRate) -> dict[str, Any]:
    """Assemble the JSON document written by ``--json``."""
    return {
        "benchmark": "engine",
        "unit": "input megapixels per second, best of the repeats",
        "repeats": repeats,
        "machine": machine_description(),
        "machine_rate": asdict(rate),
        "runs": [asdict(run) for run in runs],
    }
