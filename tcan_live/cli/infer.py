"""``tcan-live infer``: super-resolve TIFF / OME-TIFF files and stacks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tcan_live.cli.errors import INPUT_ERROR, fail, plain_console, print_error
from tcan_live.core.acquisition import EnhanceResult


def _output_path(source: Path, out: Path, single: bool) -> Path:
    if single and out.suffix.lower() in (".tif", ".tiff"):
        return out
    name = source.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out / f"{name}_sr.tif"


def _qc_path(target: Path) -> Path:
    """Where a result's consistency maps go: beside it, ``NAME_qc.tif``."""
    name = target.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return target.with_name(name[: -len(suffix)] + "_qc.tif")
    return target.with_name(name + "_qc.tif")


def _consistency_line(results: list[EnhanceResult]) -> str | None:
    """One line summing up the results' consistency with their frames."""
    checked = [r.consistency for r in results if r.consistency is not None]
    if not checked:
        return None
    flagged = [c for c in checked if c.flagged]
    worst = min(checked, key=lambda c: (not c.flagged, c.rsp))
    line = (
        f"consistency with the input: RSP {worst.rsp:.3f}, residual/noise "
        f"{worst.residual_to_noise:.2f}, outliers {100 * worst.outlier_fraction:.2f} %"
    )
    if len(checked) > 1:
        line = f"{line} (least consistent of {len(checked)} frames)"
    if flagged:
        line += f"; {len(flagged)} flagged: {flagged[0].flag}"
    return line


def _target_problem(targets: dict[Path, Path], with_qc: bool) -> str | None:
    """Why these outputs cannot be written (one overwrites an input or another), or None."""
    inputs = {source.resolve(): source for source in targets}
    written: dict[Path, Path] = {}
    pairs = list(targets.items())
    if with_qc:
        pairs += [(source, _qc_path(target)) for source, target in targets.items()]
    for source, target in pairs:
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
    confidence: Annotated[
        bool,
        typer.Option(
            "--confidence/--no-confidence",
            help="Check each result against its input; write the consistency map NAME_qc.tif.",
        ),
    ] = True,
) -> None:
    """Super-resolve INPUT files; each output records its pixel size in the TIFF metadata.

    One input and an --out ending in .tif writes that file; otherwise --out is a folder and
    each input gives NAME_sr.tif there, with its consistency map NAME_sr_qc.tif (z-scores on
    the input grid; see docs/outputs.md). Warnings about the input (undersampled, a pixel size
    that disagrees with the image) are printed naming the file. A file that fails is reported
    in one line and the others are still processed (exit code 1).
    """
    import numpy as np

    from tcan_live.core.frame_check import check_pixel_size
    from tcan_live.core.tiff_files import read_tiff_stack, write_tiff
    from tcan_live.engine.load import open_engine
    from tcan_live.runtime.confidence import ConfidenceSettings
    from tcan_live.runtime.enhancer import OUTPUT_DTYPES
    from tcan_live.runtime.normalize import NORMALIZATION_MODES

    console = plain_console(stderr=True)
    if normalization not in NORMALIZATION_MODES:
        fail(
            console,
            f"--normalization {normalization!r}: expected one of {', '.join(NORMALIZATION_MODES)}",
            INPUT_ERROR,
        )
    if dtype not in OUTPUT_DTYPES:
        fail(console, f"--dtype {dtype!r}: expected one of {', '.join(OUTPUT_DTYPES)}", INPUT_ERROR)
    targets = {source: _output_path(source, out, single=len(inputs) == 1) for source in inputs}
    problem = _target_problem(targets, with_qc=confidence)
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
                enhancer = engine.enhancer(
                    mode=normalization,
                    output_dtype=dtype,
                    confidence=ConfidenceSettings(enabled=confidence),
                )
                task = progress.add_task(escape(source.name), total=len(frames))
                results = []
                for frame in frames:
                    result = enhancer.enhance(frame, size)
                    for warning in result.warnings:
                        console.print(f"warning: {source}: {warning}", markup=False)
                    results.append(result)
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
            maps = [r.consistency.map for r in results if r.consistency is not None]
            if maps:
                qc_data = maps[0] if len(maps) == 1 else np.stack(maps)[:, None]
                write_tiff(_qc_path(target), qc_data, size)
            summary = _consistency_line(results)
            if summary is not None:
                console.print(f"{source}: {summary}", markup=False)
    engine.close()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("infer")(infer)
