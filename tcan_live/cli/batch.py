"""``tcan-live batch INPUT --out OUT.zarr``: super-resolve a recorded dataset on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from tcan_live.cli.engine_options import EngineForOption, EngineOption, engines_by_channel
from tcan_live.cli.errors import RUN_ERROR, one_line_errors


def batch(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="OME-Zarr store or image, NDTiff dataset, MMStack file(s), TIFF folder or stack."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The OME-Zarr output, e.g. OUT.zarr.")],
    engine: EngineOption = None,
    engine_for: EngineForOption = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="Address of a running Dask scheduler (default: a local cluster)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Local worker processes (default: fill the cores)."),
    ] = None,
    engine_threads: Annotated[
        int | None,
        typer.Option("--engine-threads", min=1, help="CPU threads of each worker's engine."),
    ] = None,
    frames_per_task: Annotated[
        int, typer.Option("--frames-per-task", min=1, help="Frames one task enhances together.")
    ] = 1,
    pattern: Annotated[
        str | None,
        typer.Option("--pattern", help="File-name regex with groups (?P<t>..) and (?P<c>..)."),
    ] = None,
    pixel_size: Annotated[
        float | None, typer.Option("--pixel-size", help="Pixel size in nm (overrides the files).")
    ] = None,
    normalization: Annotated[
        str, typer.Option("--normalization", help="per-frame, fixed or running.")
    ] = "per-frame",
    dtype: Annotated[str, typer.Option("--dtype", help="float32 or uint16.")] = "float32",
    dashboard: Annotated[
        str,
        typer.Option(
            "--dashboard", help="Where a local cluster serves its dashboard (none: no dashboard)."
        ),
    ] = ":8787",
    fsync: Annotated[
        bool, typer.Option("--fsync/--no-fsync", help="Force every frame to disk.")
    ] = True,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show the progress bar.")
    ] = True,
) -> None:
    """Super-resolve every frame of DATASET into OUT on a Dask cluster; rerun to resume.

    Frames already complete in OUT (an earlier run's) are not done again; frames that cannot
    be enhanced are recorded with their reason and the rest goes on (exit code 1 when a frame
    failed; run the same command again to retry it).
    """
    from tcan_live.batch.cluster import ClusterPlan, batch_client, dashboard_link
    from tcan_live.batch.report import progress_bar, summary_lines
    from tcan_live.batch.run import prepare_batch, run_batch
    from tcan_live.batch.settings import BatchSettings
    from tcan_live.core.settings import ConfigError, validate_settings

    console = Console(stderr=True, soft_wrap=True)
    with one_line_errors(console):
        if scheduler is not None and workers is not None:
            raise ConfigError(
                "command line", ["--workers: only for a local cluster (no --scheduler)"]
            )
        local = ClusterPlan.for_machine(workers, engine_threads) if scheduler is None else None
        document: dict[str, Any] = {
            "input": dataset,
            "output": out,
            "engine": engine,
            "engine_for": engines_by_channel(engine_for or []),
            "mapping": {"kind": "batch", "pattern": pattern, "pixel_size_nm": pixel_size},
            "normalization": normalization,
            "output_dtype": dtype,
            "frames_per_task": frames_per_task,
            "fsync": fsync,
            "engine_threads": local.engine_threads if local else engine_threads,
        }
        settings = validate_settings(
            BatchSettings, document, origin="command line", base_dir=Path.cwd()
        )
        prepared = prepare_batch(settings)  # bad input fails here, before a cluster starts
        with batch_client(
            scheduler,
            local or ClusterPlan(1, 1),
            dashboard_address=None if dashboard == "none" else dashboard,
        ) as client:
            link = dashboard_link(client)
            where = scheduler or f"a local cluster of {local.workers if local else 0} workers"
            console.print(Text(f"running on {where}" + (f"; dashboard: {link}" if link else "")))
            with progress_bar(console, progress) as update:
                summary = run_batch(prepared, client, on_progress=update)
    for line in summary_lines(summary, local.workers if local else None):
        console.print(Text(line))
    if summary.failed:
        raise typer.Exit(RUN_ERROR)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("batch")(batch)
