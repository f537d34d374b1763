"""``tcan-live bench``: benchmark commands (a sub-app; ``bench engine`` lives here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tcan_live.cli.errors import one_line_errors, step_logger

bench_app = typer.Typer(help="Measure throughput, side by side in one run.", no_args_is_help=True)


@bench_app.command("engine")
def bench_engine(
    engine: Annotated[list[Path], typer.Option("--engine", help="Engine folder (repeatable).")],
    frames: Annotated[int, typer.Option("--frames", help="Timed frames per run.")] = 3,
    size: Annotated[int, typer.Option("--size", help="Frame side length in pixels.")] = 512,
    repeats: Annotated[int, typer.Option("--repeats", help="Rounds; the best is kept.")] = 1,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="The engines' checkpoint, if moved.")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="Eager baseline device (default: cuda if present)."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write JSON here.")] = None,
) -> None:
    """Throughput (input megapixels/s) of torch eager fp32 and each ENGINE, same frames."""
    from tcan_live.bench.engines import bench_report, run_bench

    console = Console()
    with one_line_errors(console):
        runs = run_bench(
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
        caption="MP/s: input megapixels per second, best repeat; model: preset, scale, tile, "
        "batch; RSS: peak during the run + increase over its start.",
    )
    headers = ("run", "backend", "model", "MP/s", "s/frame", "x eager", "RSS MB", "CUDA MB")
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:3] else "right")
    for run in runs:
        table.add_row(
            "torch eager" if run.engine is None else Path(run.engine).name,
            f"{run.backend} {run.precision}",
            f"{run.preset} x{run.scale} t{run.tile} b{run.max_batch}",
            f"{run.megapixels_per_s:.3g}",
            f"{min(run.seconds) / run.frames:.2f}",
            "" if run.speedup_vs_eager is None else f"{run.speedup_vs_eager:.2f}",
            f"{run.peak_rss_mb:.0f} +{run.rss_increase_mb:.0f}",
            "" if run.peak_cuda_mb is None else f"{run.peak_cuda_mb:.0f}",
        )
    console.print(table)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(bench_report(runs, repeats), indent=2) + "\n")
        console.print(f"results written to {json_out}")


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command group to the CLI."""
    app.add_typer(bench_app, name="bench")
