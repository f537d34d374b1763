"""``tcan-live infer``: super-resolve TIFF / OME-TIFF files and stacks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def _output_path(source: Path, out: Path, single: bool) -> Path:
    if single and out.suffix.lower() in (".tif", ".tiff"):
        return out
    name = source.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out / f"{name}_sr.tif"


def infer(
    inputs: list[Path] = typer.Argument(..., help="TIFF / OME-TIFF files (2D or stacks)."),
    out: Path = typer.Option(..., "--out", help="Output file (one input) or folder."),
    engine_dir: Path | None = typer.Option(None, "--engine", help="Built engine folder."),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Run a checkpoint in torch eager mode instead of an engine."
    ),
    pixel_size: float | None = typer.Option(
        None, "--pixel-size", help="Input pixel size in nm (overrides the file's metadata)."
    ),
    normalization: str = typer.Option(
        "per-frame", "--normalization", help="per-frame, fixed or running (stacks)."
    ),
    dtype: str = typer.Option("float32", "--dtype", help="Output dtype: float32 or uint16."),
) -> None:
    """Super-resolve INPUT files; each output records its pixel size in the TIFF metadata.

    One input and an --out ending in .tif writes that file; otherwise --out is a folder and
    each input gives NAME_sr.tif there. A file that fails is reported in one line and the
    others are still processed (exit code 1).
    """
    import numpy as np

    from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
    from tcan_live.engine.load import open_engine
    from tcan_live.engine.manifest import EngineError
    from tcan_live.model import CheckpointError

    console = Console(stderr=True, soft_wrap=True)
    try:
        engine = open_engine(engine_dir=engine_dir, checkpoint=checkpoint)
    except (EngineError, CheckpointError, ValueError, OSError) as error:
        console.print(f"[red]error:[/red] {str(error).splitlines()[0]}")
        raise typer.Exit(2) from None
    failed = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for source in inputs:
            try:
                frames, recorded_size = read_tiff_stack(source)
                size = pixel_size if pixel_size is not None else recorded_size
                if size is None:
                    raise ValueError(f"{source}: no pixel size in the metadata; pass --pixel-size")
                enhancer = engine.enhancer(mode=normalization, output_dtype=dtype)
                task = progress.add_task(source.name, total=len(frames))
                results = []
                for frame in frames:
                    results.append(enhancer.enhance(frame, size))
                    progress.advance(task)
            except ValueError as error:  # includes ImageFileError and FrameRejected
                failed += 1
                message = str(error).splitlines()[0]
                where = "" if str(source) in message else f"{source}: "
                console.print(f"[red]error:[/red] {where}{message}", markup=True)
                continue
            images = [r.image for r in results]
            # One plane stays 2D; a stack becomes a time series (T, C=1, Y, X).
            data = images[0] if len(images) == 1 else np.stack(images)[:, None]
            target = _output_path(source, out, single=len(inputs) == 1)
            write_tiff(target, data, results[0].pixel_size_nm)
            console.print(
                f"{source} -> {target} ({data.shape[-2]} x {data.shape[-1]} px, "
                f"{results[0].pixel_size_nm:g} nm)"
            )
    engine.close()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("infer")(infer)
