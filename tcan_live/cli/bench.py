"""``tcan-live bench``: benchmark commands (a sub-app; ``bench engine`` lives here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tcan_live.cli.errors import RUN_ERROR, fail, one_line_errors, plain_console, step_logger

# Options the bench commands share, declared once.
EngineOption = Annotated[Path, typer.Option("--engine", help="Engine folder.")]
SizeOption = Annotated[int, typer.Option("--size", min=16, help="Frame side length in pixels.")]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Also write JSON here.")]

bench_app = typer.Typer(help="Measure throughput, side by side in one run.", no_args_is_help=True)


def _write_json(console: Console, report: object, path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"results written to {path}")


@bench_app.command("engine")
def bench_engine(
    engine: Annotated[list[Path], typer.Option("--engine", help="Engine folder (repeatable).")],
    frames: Annotated[int, typer.Option("--frames", help="Timed frames per run.")] = 3,
    size: SizeOption = 512,
    repeats: Annotated[int, typer.Option("--repeats", help="Rounds; the best is kept.")] = 1,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="The engines' checkpoint, if moved.")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="Eager baseline device (default: cuda if present)."),
    ] = None,
    json_out: JsonOption = None,
) -> None:
    """Throughput (input megapixels/s) of torch eager fp32 and each ENGINE, same frames."""
    from tcan_live.bench.engines import bench_report, run_bench

    console = plain_console(width=max(plain_console().width, 140))  # wide tables also in logs
    with one_line_errors(console):
        runs, rate = run_bench(
            engine,
            frames=frames,
            size=size,
            repeats=repeats,
            checkpoint=checkpoint,
            device=device,
            log=step_logger(console),
        )
    table = Table(
        title=f"{frames} frames of {size} x {size} through the full enhancer",
        caption="MP/s: input megapixels per second, best repeat; model: preset, scale, tiles "
        "(the one used), batch; halo: pixels computed per input pixel; x 1st: against the first "
        "engine; % matmul / % conv: achieved network FLOP/s over the machine's measured "
        f"{rate.dtype} matmul {rate.matmul_flops / 1e9:.3g} / 3x3 convolution "
        f"{rate.conv_flops / 1e9:.3g} GFLOP/s ({rate.device}); RSS: peak + increase.",
    )
    headers = (
        "run",
        "backend",
        "model",
        "MP/s",
        "s/frame",
        "x eager",
        "x 1st",
        "halo",
        "GFLOP/s",
        "% matmul",
        "% conv",
        "RSS MB",
        "CUDA MB",
    )
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:3] else "right")
    for run in runs:
        table.add_row(
            "torch eager" if run.engine is None else Path(run.engine).name,
            f"{run.backend} {run.precision}",
            f"{run.preset} x{run.scale} t{'/'.join(map(str, run.tile_sizes))} "
            f"({run.frame_tile}) b{run.max_batch}",
            f"{run.megapixels_per_s:.3g}",
            f"{min(run.seconds) / run.frames:.2f}",
            "" if run.speedup_vs_eager is None else f"{run.speedup_vs_eager:.2f}",
            "" if run.speedup_vs_first is None else f"{run.speedup_vs_first:.2f}",
            f"{run.halo_overhead:.2f}",
            f"{run.network_gflop_per_s:.3g}",
            f"{100 * run.fraction_of_matmul:.1f}",
            f"{100 * run.fraction_of_conv:.1f}",
            f"{run.peak_rss_mb:.0f} +{run.rss_increase_mb:.0f}",
            "" if run.peak_cuda_mb is None else f"{run.peak_cuda_mb:.0f}",
        )
    console.print(table)
    _write_json(console, bench_report(runs, repeats, rate), json_out)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _words(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@bench_app.command("gpu")
def bench_gpu(
    presets: Annotated[str, typer.Option("--presets", help="Comma-separated presets.")] = (
        "small,paper"
    ),
    precisions: Annotated[str, typer.Option("--precisions", help="fp32,fp16,bf16.")] = (
        "fp32,fp16,bf16"
    ),
    modes: Annotated[
        str, typer.Option("--modes", help="eager,compile,cudagraphs (torch.compile variants).")
    ] = "eager,compile,cudagraphs",
    sizes: Annotated[str, typer.Option("--sizes", help="Frame side lengths.")] = "512,1024,2048",
    batches: Annotated[str, typer.Option("--batches", help="Frames per batch.")] = "1,4,8,16,32",
    device: Annotated[
        str, typer.Option("--device", help="cuda, or cpu for a smoke run of the same table.")
    ] = "cuda",
    iterations: Annotated[
        int, typer.Option("--iterations", min=3, help="Timed calls per case (at most).")
    ] = 20,
    budget: Annotated[
        float, typer.Option("--budget", min=1, help="Seconds; later cases are skipped.")
    ] = 270.0,
    engine: Annotated[
        list[Path] | None,
        typer.Option("--engine", help="Engine folder (any backend, e.g. TensorRT); repeatable."),
    ] = None,
    pipeline_engine: Annotated[
        Path | None,
        typer.Option("--pipeline-engine", help="Also run bench pipeline on this engine."),
    ] = None,
    pipeline_frames: Annotated[
        int, typer.Option("--pipeline-frames", min=1, help="Frames of the pipeline run.")
    ] = 100,
    pipeline_size: Annotated[
        int, typer.Option("--pipeline-size", min=16, help="Frame side of the pipeline run.")
    ] = 512,
    json_out: JsonOption = None,
) -> None:
    """Torch backend on the GPU: precisions x eager/compile/CUDA graphs x sizes x batches."""
    from tcan_live.bench.gpu import run_gpu_bench
    from tcan_live.bench.pipeline import bench_pipeline as run_pipeline

    console = plain_console(width=max(plain_console().width, 140))
    with one_line_errors(console):
        report = run_gpu_bench(
            presets=_words(presets),
            precisions=_words(precisions),
            modes=_words(modes),
            sizes=_ints(sizes),
            batches=_ints(batches),
            device=device,
            iterations=iterations,
            budget_s=budget,
            engines=engine or [],
            log=step_logger(console),
        )
        if pipeline_engine is not None:
            report["pipeline"] = run_pipeline(
                pipeline_engine,
                frames=pipeline_frames,
                size=pipeline_size,
                log=step_logger(console),
            )
    table = Table(
        title=f"torch on {report['gpu'] or report['device']}: whole frames, batched",
        caption=f"MP/s: input megapixels per second (median latency); % bf16: network FLOP/s "
        f"over the chip's bf16 matmul rate measured in this run "
        f"({report['bf16_matmul_tflop_per_s']:.3g} TFLOP/s); memory: torch's peak CUDA "
        "allocation; first: first call (compilation, capture).",
    )
    headers = ("preset", "precision", "mode", "size", "batch", "MP/s", "p50 ms", "p99 ms")
    for header in (*headers, "% bf16", "memory MB", "first s"):
        table.add_column(header, justify="left" if header in headers[:3] else "right")
    for case in report["cases"]:
        memory = case["peak_memory_mb"]
        table.add_row(
            case["preset"],
            case["precision"],
            case["mode"],
            str(case["size"]),
            str(case["batch"]),
            f"{case['megapixels_per_s']:.3g}",
            f"{case['latency_ms_p50']:.1f}",
            f"{case['latency_ms_p99']:.1f}",
            f"{100 * case['fraction_of_bf16_matmul']:.1f}",
            "" if memory is None else f"{memory:.0f}",
            f"{case['compile_s']:.1f}",
        )
    console.print(table)
    for run in report["engines"]:
        console.print(
            f"engine {run['engine']} ({run['backend']} {run['precision']}, tile {run['tile']}, "
            f"batch {run['batch']}): {run['tile_megapixels_per_s']:.3g} tile MP/s, p50 "
            f"{run['latency_ms_p50']:.1f} ms, p99 {run['latency_ms_p99']:.1f} ms"
        )
    if "pipeline" in report:
        pipeline = report["pipeline"]
        for run_report in pipeline["runs"]:
            console.print(
                f"pipeline {run_report['mode']}: {run_report['pipeline_mp_per_s']:.3g} MP/s = "
                f"{run_report['pipeline_mp_per_s'] / pipeline['engine_mp_per_s']:.2f} x the "
                f"engine alone ({pipeline['engine_mp_per_s']:.3g} MP/s)"
            )
    for line in report["skipped"]:
        console.print(f"skipped: {line}")
    console.print(f"{report['seconds']:.0f} s")
    _write_json(console, report, json_out)


@bench_app.command("pipeline")
def bench_pipeline(
    engine: EngineOption,
    frames: Annotated[int, typer.Option("--frames", help="Frames per pipeline run.")] = 200,
    size: SizeOption = 256,
    paced_fraction: Annotated[
        float,
        typer.Option("--paced-fraction", help="Paced run's rate as a fraction of the engine's."),
    ] = 0.5,
    batch_frames: Annotated[
        int, typer.Option("--batch-frames", min=1, help="Frames per batch.")
    ] = 4,
    max_in_memory: Annotated[
        int,
        typer.Option("--max-in-memory", min=1, help="Frames held in memory before spilling."),
    ] = 32,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats", min=1, help="Saturated runs of each kind, alternating (medians used)."
        ),
    ] = 1,
    live_frames: Annotated[
        int,
        typer.Option(
            "--live-frames",
            min=0,
            help="Frames of the two live runs (camera faster than the engine, previews on, "
            "acquisition order vs newest-first); 0: no live runs.",
        ),
    ] = 40,
    camera_factor: Annotated[
        float,
        typer.Option("--camera-factor", min=1.0, help="Live runs: camera rate / engine rate."),
    ] = 1.5,
    json_out: JsonOption = None,
) -> None:
    """Measure the whole daemon path (replay, store, engine, OME-Zarr) against the engine."""
    from tcan_live.bench.pipeline import bench_pipeline as run
    from tcan_live.pipeline.limits import PipelineLimits

    console = plain_console(width=max(plain_console().width, 140))  # wide tables also in logs
    with one_line_errors(console):
        limits = PipelineLimits(max_frames_in_memory=max_in_memory, batch_frames=batch_frames)
        report = run(
            engine,
            frames=frames,
            size=size,
            paced_fraction=paced_fraction,
            limits=limits,
            repeats=repeats,
            live_frames=live_frames,
            camera_factor=camera_factor,
            log=step_logger(console),
        )
    table = Table(title=f"{frames} frames of {size} x {size}: pipeline against engine alone")
    for header in ("run", "rate /s", "MP/s", "x engine", "p50 ms", "p99 ms", "backlog max"):
        table.add_column(header, justify="left" if header == "run" else "right")
    table.add_column("backlog slope /s", justify="right")
    table.add_column("RSS growth MB", justify="right")
    table.add_column("lost", justify="right")
    table.add_row("engine alone", "", f"{report['engine_mp_per_s']:.3f}", "1.00", *[""] * 6)
    for run_report in report["runs"]:
        table.add_row(
            run_report["mode"],
            f"{run_report['rate_hz']:.2f}" if run_report["rate_hz"] else "max",
            f"{run_report['pipeline_mp_per_s']:.3f}",
            f"{run_report['pipeline_mp_per_s'] / report['engine_mp_per_s']:.2f}",
            f"{run_report['latency_ms_p50']:.0f}",
            f"{run_report['latency_ms_p99']:.0f}",
            str(run_report["backlog_max"]),
            f"{run_report['backlog_slope_per_s']:.3f}",
            f"{run_report['rss_growth_mb']:.1f}",
            str(run_report["frames_lost"]),
        )
    console.print(table)
    pairs = ", ".join(f"{ratio:.2f}" for ratio in report["multidim_vs_timelapse_per_turn"])
    console.print(
        f"saturated-pz / saturated: {report['multidim_vs_timelapse']:.2f} (2 positions x 5 z "
        f"slices per time point against the time-lapse path, same frames; median of {repeats} "
        f"back-to-back pairs: {pairs})"
    )
    if live_frames:
        for mode in ("live", "live_newest_first"):
            console.print(
                f"{mode}: preview latency p50 {report[f'{mode}_preview_latency_ms_p50']:.0f} ms, "
                f"p99 {report[f'{mode}_preview_latency_ms_p99']:.0f} ms = "
                f"{report[f'{mode}_p50_over_engine_call']:.2f} x one engine call "
                f"({report['engine_call_ms']:.0f} ms); {report[f'{mode}_previews_shown']} "
                f"previews, {report[f'{mode}_frames_in_store']} of {live_frames} frames stored"
            )
    _write_json(console, report, json_out)


@bench_app.command("confidence")
def bench_confidence(
    engine: EngineOption,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames per turn.")] = 4,
    size: SizeOption = 512,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Alternating turns.")] = 3,
    json_out: JsonOption = None,
) -> None:
    """Measure the live consistency check's cost against the engine's time, side by side."""
    from tcan_live.bench.confidence import confidence_cost

    console = plain_console()
    with one_line_errors(console):
        report = confidence_cost(
            engine, frames=frames, size=size, repeats=repeats, log=step_logger(console)
        )
    table = Table(title=f"confidence: {frames} frames of {size} x {size}, {repeats} turns")
    for header in ("engine s/frame", "with check", "check alone", "check / engine", "guards s"):
        table.add_column(header, justify="right")
    table.add_row(
        f"{report['seconds_per_frame_engine']:.3f}",
        f"{report['seconds_per_frame_with_check']:.3f}",
        f"{report['seconds_per_frame_check_alone']:.3f}",
        f"{100 * report['check_over_engine']:.1f} %",
        f"{report['guards_once_per_stream_s']:.2f}",
    )
    console.print(table)
    _write_json(console, report, json_out)


@bench_app.command("soak")
def bench_soak(
    engine: EngineOption,
    frames: Annotated[int, typer.Option("--frames", help="Frames in the run.")] = 10_000,
    size: SizeOption = 256,
    paced_fraction: Annotated[
        float,
        typer.Option("--paced-fraction", help="Acquisition rate as a fraction of the engine's."),
    ] = 0.85,
    sample_every: Annotated[
        float, typer.Option("--sample-every", help="Seconds between memory samples.")
    ] = 5.0,
    json_out: JsonOption = None,
) -> None:
    """One long paced run through the whole daemon path: losses, memory, latency drift."""
    from tcan_live.bench.pipeline import soak

    console = plain_console(width=max(plain_console().width, 140))
    with one_line_errors(console):
        report = soak(
            engine,
            frames=frames,
            size=size,
            paced_fraction=paced_fraction,
            sample_every_s=sample_every,
            log=step_logger(console),
        )
    table = Table(title=f"soak: {frames} frames of {size} x {size}, paced")
    for header in ("rate /s", "hours", "lost", "in store", "RSS growth MB", "RSS MB start/end"):
        table.add_column(header, justify="right")
    for header in ("p50 ms", "p99 ms", "latency drift", "backlog max", "backlog slope /s"):
        table.add_column(header, justify="right")
    rss = report["rss_mb_over_time"]
    table.add_row(
        f"{report['rate_hz']:.2f}",
        f"{report['seconds'] / 3600:.2f}",
        str(report["frames_lost"]),
        str(report["frames_in_store"]),
        f"{report['rss_growth_mb']:.1f}",
        f"{rss[0][1]:.0f} / {rss[-1][1]:.0f}" if rss else "",
        f"{report['latency_ms_p50']:.0f}",
        f"{report['latency_ms_p99']:.0f}",
        f"{report['latency_drift']:.2f}x",
        str(report["backlog_max"]),
        f"{report['backlog_slope_per_s']:.4f}",
    )
    console.print(table)
    _write_json(console, report, json_out)
    if report["frames_lost"]:
        fail(console, f"{report['frames_lost']} frame(s) lost in the soak run", RUN_ERROR)


@bench_app.command("batch")
def bench_batch(
    engine: EngineOption,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames in the dataset.")] = 200,
    size: SizeOption = 256,
    runs: Annotated[
        str,
        typer.Option("--runs", help="Local clusters to compare, WORKERSxTHREADS, e.g. 1x1,2x1."),
    ] = "1x1,2x1",
    frames_per_task: Annotated[
        int, typer.Option("--frames-per-task", min=1, help="Frames one task enhances together.")
    ] = 1,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Turns of every run; each keeps its best.")
    ] = 1,
    json_out: JsonOption = None,
) -> None:
    """Throughput of ``tcan-live batch`` on local clusters of different sizes, same frames."""
    from tcan_live.bench.batch import bench_batch as run
    from tcan_live.bench.batch import parse_configurations

    console = Console(width=max(Console().width, 140))
    with one_line_errors(console):
        report = run(
            engine,
            frames=frames,
            size=size,
            configurations=parse_configurations(runs),
            frames_per_task=frames_per_task,
            repeats=repeats,
            log=step_logger(console),
        )
    table = Table(
        title=f"tcan-live batch: {frames} frames of {size} x {size}, best of {repeats} per cluster",
        caption=f"engine alone in one process: {report['engine_alone_mp_per_s']:.3f} MP/s; "
        f"{report['physical_cores']} physical cores, {report['logical_cpus']} logical CPUs; "
        "CPU: the run's own processes / the whole machine, 100 % = one core; load: 1-min average",
    )
    headers = ("workers x threads", "MP/s", "x first", "s", "start s", "CPU own/all %", "load")
    for header in (*headers, "frames once", "same pixels"):
        table.add_column(header, justify="left" if header == headers[0] else "right")
    for entry in report["runs"]:
        table.add_row(
            f"{entry['workers']} x {entry['engine_threads']}",
            f"{entry['megapixels_per_s']:.3f}",
            f"{entry['speedup']:.2f}",
            f"{entry['seconds']:.1f}",
            f"{entry['cluster_start_s']:.1f}",
            f"{entry['own_cpu_percent']:.0f} / {entry['cpu_busy_percent']:.0f}",
            f"{entry['load_average']:.1f}",
            "yes" if entry["chunks"] == entry["written"] == frames else "NO",
            "yes" if entry["identical_to_first"] else "NO",
        )
    console.print(table)
    _write_json(console, report, json_out)
    if any(
        entry["chunks"] != frames or not entry["identical_to_first"] for entry in report["runs"]
    ):
        fail(console, "a run did not store every frame once with the same pixels", RUN_ERROR)


@bench_app.command("napari")
def bench_napari(
    engine: EngineOption,
    frames: Annotated[int, typer.Option("--frames", min=2, help="Frames per daemon run.")] = 48,
    size: SizeOption = 256,
    repeats: Annotated[
        int,
        typer.Option("--repeats", min=1, help="Turns, each one run without and one with."),
    ] = 8,
    display_rate: Annotated[
        float,
        typer.Option("--display-rate", min=0.5, max=60.0, help="The widget's repaints per second."),
    ] = 5.0,
    json_out: JsonOption = None,
) -> None:
    """Measure a daemon's throughput with napari's live widget attached and without."""
    from tcan_live.napari.bench import viewer_cost

    console = plain_console()
    with one_line_errors(console):
        report = viewer_cost(
            engine,
            frames=frames,
            size=size,
            repeats=repeats,
            display_rate_hz=display_rate,
            log=step_logger(console),
        )
    table = Table(
        title=f"daemon with napari's live widget: {frames} frames of {size} x {size}, "
        f"{repeats} alternating turns, display rate {display_rate:g} Hz"
    )
    for header in ("turn", "without frames/s", "with frames/s", "with / without"):
        table.add_column(header, justify="right")
    turns = zip(report["frames_per_s_without"], report["frames_per_s_with"], strict=True)
    for turn, (without, with_viewer) in enumerate(turns, start=1):
        table.add_row(
            str(turn), f"{without:.3f}", f"{with_viewer:.3f}", f"{with_viewer / without:.3f}"
        )
    table.add_row(
        "median",
        f"{report['median_without']:.3f}",
        f"{report['median_with']:.3f}",
        f"{report['median_turn_ratio']:.3f}",
    )
    console.print(table)
    console.print(
        f"with / without: median of the turns' ratios {report['median_turn_ratio']:.3f}, "
        f"ratio of the medians {report['with_over_without']:.3f}{_mean_and_error(report)}; viewer: "
        f"{report['previews_received']} previews received, {report['previews_shown']} given to "
        "layers (newer ones replace older, latest wins; hidden layers draw when shown)"
    )
    console.print(
        f"where the machine's {report['logical_cpus']} CPUs went, with the widget / without: "
        f"the viewer's process {_shares(report, 'viewer_cpu_share')}; the rest of the machine "
        f"(X server, other processes) {_shares(report, 'others_cpu_share')}; the hypervisor "
        f"{_shares(report, 'steal_share')}; the daemon's CPU per frame (start-up included) "
        f"{_shares(report, 'daemon_cpu_s_per_frame', percent=False)}"
    )
    _write_json(console, report, json_out)


def _mean_and_error(report: dict[str, Any]) -> str:
    """Describe the mean of the turns' ratios, its standard error and lower bound (2+ turns)."""
    if report["turn_ratio_sem"] is None:
        return ""
    mean, error = report["turn_ratio_mean"], report["turn_ratio_sem"]
    lower = report["turn_ratio_lower_95"]
    return (
        f", mean of the turns' ratios {mean:.3f} +- {error:.3f} (one-sided 95 % bound {lower:.3f})"
    )


def _shares(report: dict[str, Any], measure: str, *, percent: bool = True) -> str:
    """Format a measure's medians with and without the widget ("n/a" where not measured)."""

    def one(value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{100 * value:.1f} %" if percent else f"{value:.2f} s"

    return f"{one(report[f'{measure}_with'])} / {one(report[f'{measure}_without'])}"


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command group to the CLI."""
    app.add_typer(bench_app, name="bench")
