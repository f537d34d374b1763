"""``tcan-live bench gpu``: the torch backend on a GPU, and built engines, in one short run.

One command measures what a GPU workstation beside the microscope gives: the generator of each
preset (random weights: speed does not depend on them) in fp32, fp16 and bf16, eager, compiled
(``torch.compile``) and compiled with CUDA graphs (``mode="reduce-overhead"``), on whole frames
of each size in batches; the chip's own bf16 matmul rate measured in the same run, and each
case's achieved fraction of it; optionally built engine folders (any backend, TensorRT
included: what is installed runs) and the whole daemon pipeline on one of them against that
engine alone (:func:`tcan_live.bench.pipeline.bench_pipeline`).

A time budget bounds the run: every eager case comes first, then the compiled ones, and cases
that would start after the deadline are listed as skipped (one compilation may overrun it by
its own time), so the command finishes within about six minutes on one GPU. ``device="cpu"``
runs the eager part of the same table on the CPU (small sizes): it exists so the command and
its report can be tested on machines without a GPU, not to measure CPUs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tcan_live.bench.machine_rate import measure_machine_rate
from tcan_live.engine.load import load_backend
from tcan_live.engine.manifest import EngineError
from tcan_live.engine.torch_backend import TORCH_DTYPES
from tcan_live.model import build_generator
from tcan_live.model.complexity import flops_per_pixel_at

MODES: tuple[str, ...] = ("eager", "compile", "cudagraphs")
# The largest batch of whole frames per size: batch x pixels stays within 32 frames of 512 px.
MAX_BATCH_PIXELS = 32 * 512 * 512


@dataclass(frozen=True)
class GpuCase:
    """One measured (preset, precision, mode, frame size, batch)."""

    preset: str
    precision: str
    mode: str
    size: int
    batch: int
    megapixels_per_s: float  # input megapixels per second, from the median latency
    latency_ms_p50: float
    latency_ms_p99: float
    peak_memory_mb: float | None  # torch's peak CUDA allocation (None on the CPU)
    network_tflop_per_s: float  # convolution and dense FLOPs of the network (spectrum aside)
    fraction_of_bf16_matmul: float
    compile_s: float  # first call: compilation, CUDA graph capture, cuDNN autotuning


def no_cuda_message() -> str:
    """Return the one line said when a GPU is asked for and torch sees none."""
    return (
        "no CUDA device: torch.cuda.is_available() is False (CPU-only torch, no GPU or no "
        "driver); bench gpu measures a GPU (--device cpu runs the same table on the CPU as a "
        "smoke test)"
    )


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _network_flops_per_pixel(preset: str) -> float:
    """Convolution and dense FLOPs per pixel: the tile-independent part of the count.

    The torch backend computes the spectrum with cuFFT (eager) or the matmul spectrum
    (compiled); neither is counted, so fractions of the matmul rate compare like with like.
    """
    config = build_generator(preset, 1).config
    small, large = flops_per_pixel_at(config, 64), flops_per_pixel_at(config, 128)
    return 2 * small - large  # the linear count extrapolated to a zero-size spectrum


def _dtype(precision: str) -> torch.dtype:
    for name, dtype in TORCH_DTYPES.items():
        if name == precision:
            return dtype
    raise ValueError(f"unknown precision {precision!r}: expected fp32, fp16 or bf16")


def _model(preset: str, precision: str, mode: str, device: str) -> Callable[[torch.Tensor], Any]:
    torch.manual_seed(0)
    spectrum = "fft" if mode == "eager" else "matmul"  # inductor has no complex kernels
    generator = build_generator(preset, 1, spectrum=spectrum).eval()
    generator = generator.to(device=device, dtype=_dtype(precision))
    if mode == "eager":
        return generator
    # Default inductor autotuning: max-autotune would spend minutes per shape of the budget.
    compile_mode = "reduce-overhead" if mode == "cudagraphs" else "default"
    compiled: Callable[[torch.Tensor], Any] = torch.compile(
        generator, mode=compile_mode, dynamic=False
    )
    return compiled


def _time_case(
    model: Callable[[torch.Tensor], Any],
    inputs: torch.Tensor,
    device: str,
    iterations: int,
    seconds: float,
) -> tuple[float, list[float]]:
    """Return the first call's seconds and the latencies of up to ``iterations`` calls."""
    with torch.inference_mode():
        start = time.perf_counter()
        model(inputs)
        _sync(device)
        first = time.perf_counter() - start
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while len(latencies) < iterations and (
            len(latencies) < 3 or time.perf_counter() < deadline
        ):
            start = time.perf_counter()
            model(inputs)
            _sync(device)
            latencies.append(time.perf_counter() - start)
    return first, latencies


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def run_gpu_bench(
    *,
    presets: Sequence[str] = ("small", "paper"),
    precisions: Sequence[str] = ("fp32", "fp16", "bf16"),
    modes: Sequence[str] = MODES,
    sizes: Sequence[int] = (512, 1024, 2048),
    batches: Sequence[int] = (1, 4, 8, 16, 32),
    device: str = "cuda",
    iterations: int = 20,
    seconds_per_case: float = 2.0,
    budget_s: float = 270.0,
    engines: Sequence[str | Path] = (),
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Measure every case within ``budget_s``; return the JSON report.

    Parameters
    ----------
    presets, precisions, modes, sizes, batches
        The grid. Batches above ``MAX_BATCH_PIXELS`` for a size are left out; compiled modes
        run on CUDA only (CUDA graphs need it; on the CPU the grid is a smoke test).
    device
        ``cuda`` (default) or ``cpu``.
    iterations, seconds_per_case
        Timed calls per case: up to ``iterations``, stopping after ``seconds_per_case``
        (at least 3).
    budget_s
        Cases that would start after this many seconds are skipped and listed.
    engines
        Engine folders to measure on batches of their own tile (any backend).

    Raises
    ------
    EngineError
        With :func:`no_cuda_message` when ``device`` is CUDA and torch sees no GPU.
    """
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError(no_cuda_message())
    for precision in precisions:
        _dtype(precision)
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"unknown mode(s) {sorted(unknown)}: expected {', '.join(MODES)}")
    started = time.perf_counter()
    log(f"measuring the chip's bf16 matmul rate ({device})")
    rate = measure_machine_rate(device, torch.bfloat16)
    cases: list[GpuCase] = []
    skipped: list[str] = []
    gpu = device.startswith("cuda")
    flops = {preset: _network_flops_per_pixel(preset) for preset in presets}
    # Modes outermost: every eager case (seconds each) before any compiled one (a compilation
    # per shape, tens of seconds), so a tight budget still yields the whole eager table.
    for mode in modes:
        for preset in presets:
            flops_per_pixel = flops[preset]
            for precision in precisions:
                if mode != "eager" and not gpu:
                    skipped.append(f"{preset} {precision} {mode}: compiled modes run on CUDA only")
                    continue
                model = _model(preset, precision, mode, device)
                for size in sorted(sizes):
                    for batch in sorted(b for b in batches if b * size * size <= MAX_BATCH_PIXELS):
                        name = f"{preset} {precision} {mode} {size} px x{batch}"
                        if time.perf_counter() - started > budget_s:
                            skipped.append(f"{name}: over the {budget_s:g} s budget")
                            continue
                        log(name)
                        if gpu:
                            torch.cuda.reset_peak_memory_stats()
                        inputs = torch.rand(batch, 1, size, size, device=device).to(
                            _dtype(precision)
                        )
                        try:
                            first, latencies = _time_case(
                                model, inputs, device, iterations, seconds_per_case
                            )
                        except torch.OutOfMemoryError:
                            skipped.append(f"{name}: out of GPU memory")
                            torch.cuda.empty_cache()
                            continue
                        median = statistics.median(latencies)
                        pixels = batch * size * size
                        achieved = pixels * flops_per_pixel / median
                        cases.append(
                            GpuCase(
                                preset=preset,
                                precision=precision,
                                mode=mode,
                                size=size,
                                batch=batch,
                                megapixels_per_s=pixels / 1e6 / median,
                                latency_ms_p50=1e3 * median,
                                latency_ms_p99=1e3 * _percentile(latencies, 99),
                                peak_memory_mb=(
                                    torch.cuda.max_memory_allocated() / 2**20 if gpu else None
                                ),
                                network_tflop_per_s=achieved / 1e12,
                                fraction_of_bf16_matmul=achieved / rate.matmul_flops,
                                compile_s=first,
                            )
                        )
                del model
    engine_runs = [
        _engine_run(Path(folder), iterations, seconds_per_case, log) for folder in engines
    ]
    return {
        "benchmark": "gpu",
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if gpu else None,
        "torch": torch.__version__,
        "bf16_matmul_tflop_per_s": rate.matmul_flops / 1e12,
        "machine_rate": asdict(rate),
        "cases": [asdict(case) for case in cases],
        "engines": engine_runs,
        "skipped": skipped,
        "seconds": time.perf_counter() - started,
    }


def _engine_run(
    folder: Path, iterations: int, seconds: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """Measure an engine folder's backend on full batches of its tile (TensorRT included)."""
    log(f"engine {folder}")
    backend, manifest = load_backend(folder)
    try:
        tiles = np.random.default_rng(0).random(
            (backend.max_batch, 1, backend.tile, backend.tile), dtype=np.float32
        )
        first, latencies = _time_case(
            lambda batch: backend.run(batch.numpy()),
            torch.from_numpy(tiles),
            "cpu",
            iterations,
            seconds,
        )
    finally:
        backend.close()
    median = statistics.median(latencies)
    pixels = tiles.shape[0] * backend.tile**2
    return {
        "engine": str(folder),
        "backend": manifest.backend,
        "precision": manifest.precision,
        "tile": manifest.tile,
        "batch": backend.max_batch,
        "tile_megapixels_per_s": pixels / 1e6 / median,
        "latency_ms_p50": 1e3 * median,
        "latency_ms_p99": 1e3 * _percentile(latencies, 99),
        "first_call_s": first,
    }
