"""``tcan-live infer``: super-resolve TIFF / OME-TIFF files and stacks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tcan_live.cli.errors import INPUT_ERROR, fail, plain_console, print_error


def _output_path(source: Path, out: Path, single: bool) -> Path:
    if single and out.suffix.lower() in (".tif", ".tiff"):
        return out
    name = source.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out / f"{name}_sr.tif"


def _target_problem(targets: dict[Path, Path]) -> str | None:
    """Why these outputs cannot be written (one overwrites an input or another), or None."""
    inputs = {source.resolve(): source for source in targets}
    written: dict[Path, Path] = {}
    for source, target in targets.items():
        real = target.resolve()
        if real in inputs:
            return f"--out {target} would overwrite the input {inputs[real]}: choose another --out"
        if real in written:
            return (
                f"{written[real]} and {source} would both be written to {target}: give them "
                "different names or infer them into different --out folders"
            )
        written[real] = source
    return None


def infer(
    inputs: Annotated[list[Path], typer.Argument(help="TIFF / OME-TIFF files (2D or stacks).")],
    out: Annotated[Path, typer.Option("--out", help="Output file (one input) or folder.")],
    engine_dir: Annotated[
        Path | None, typer.Option("--engine", help="Built engine folder.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint", help="Run a checkpoint in torch eager mode instead of an engine."
        ),
    ] = None,
    pixel_size: Annotated[
        float | None,
        typer.Option(
            "--pixel-size", help="Input pixel size in nm (overrides the file's metadata)."
        ),
    ] = None,
    normalization: Annotated[
        str, typer.Option("--normalization", help="per-frame, fixed or running (stacks).")
    ] = "per-frame",
    dtype: Annotated[
        str, typer.Option("--dtype", help="Output dtype: float32 or uint16.")
    ] = "float32",
) -> None:
    """Super-resolve INPUT files; each output records its pixel size in the TIFF metadata.

    One input and an --out ending in .tif writes that file; otherwise --out is a folder and
    each input gives NAME_sr.tif there. A file that fails is reported in one line and the
    others are still processed (exit code 1).
    """
    import numpy as np

    from tcan_live.core.frame_check import check_pixel_size
    from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
    from tcan_live.engine.load import open_engine
    from tcan_live.runtime.enhancer import OUTPUT_DTYPES
    from tcan_live.runtime.normalize import NORMALIZATION_MODES

    console = plain_console(stderr=True, soft_wrap=True)
    if normalization not in NORMALIZATION_MODES:
        fail(
            console,
            f"--normalization {normalization!r}: expected one of {', '.join(NORMALIZATION_MODES)}",
            INPUT_ERROR,
        )
    if dtype not in OUTPUT_DTYPES:
        fail(console, f"--dtype {dtype!r}: expected one of {', '.join(OUTPUT_DTYPES)}", INPUT_ERROR)
    targets = {source: _output_path(source, out, single=len(inputs) == 1) for source in inputs}
    problem = _target_problem(targets)
    if problem is not None:
        fail(console, problem, INPUT_ERROR)
    try:
        engine = open_engine(engine_dir=engine_dir, checkpoint=checkpoint)
    except (ValueError, OSError) as error:
        fail(console, str(error).splitlines()[0], INPUT_ERROR)
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
                if pixel_size is not None:
                    size = check_pixel_size(pixel_size, "--pixel-size")
                elif recorded_size is None:
                    raise ValueError(f"{source}: no pixel size in the metadata; pass --pixel-size")
                else:
                    size = check_pixel_size(recorded_size, f"{source}'s metadata")
                enhancer = engine.enhancer(mode=normalization, output_dtype=dtype)
                task = progress.add_task(escape(source.name), total=len(frames))
                results = []
                for frame in frames:
                    results.append(enhancer.enhance(frame, size))
                    progress.advance(task)
            except ValueError as error:  # includes ImageFileError and FrameRejected
                failed += 1
                message = str(error).splitlines()[0]
                where = "" if str(source) in message else f"{source}: "
                print_error(console, f"{where}{message}")
                continue
            images = [r.image for r in results]
            # One plane stays 2D; a stack becomes a time series (T, C=1, Y, X).
            data = images[0] if len(images) == 1 else np.stack(images)[:, None]
            target = targets[source]
            write_tiff(target, data, results[0].pixel_size_nm)
            console.print(
                f"{source} -> {target} ({data.shape[-2]} x {data.shape[-1]} px, "
                f"{results[0].pixel_size_nm:g} nm)",
                markup=False,
            )
    engine.close()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("infer")(infer)
