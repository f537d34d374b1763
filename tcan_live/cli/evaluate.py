"""``tcan-live evaluate``: the papers' metrics for a method, the input, STED and baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tcan_live.cli.errors import INPUT_ERROR, fail, one_line_errors, plain_console


def evaluate(
    data: Annotated[
        Path, typer.Option("--data", help="Folder with lr/ (and hr/, gt/) or LR TIFFs.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder for metrics.json, report.md.")],
    engine: Annotated[
        Path | None, typer.Option("--engine", help="Engine folder to evaluate.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Checkpoint (.safetensors) to evaluate in torch."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Evaluate a baseline: lucy-richardson or bicubic."),
    ] = None,
    beads: Annotated[
        bool | None,
        typer.Option(
            "--beads/--no-beads", help="Measure bead FWHM (default: if meta.json says beads)."
        ),
    ] = None,
    pixel_size_nm: Annotated[
        float | None,
        typer.Option("--pixel-size-nm", help="Input pixel size for files without one."),
    ] = None,
    lr_iterations: Annotated[
        int | None,
        typer.Option(
            "--lr-iterations", min=1, help="Fix Lucy-Richardson iterations (default: best PSNR)."
        ),
    ] = None,
    max_images: Annotated[
        int | None, typer.Option("--max-images", min=1, help="Use the first N images.")
    ] = None,
) -> None:
    """Measure a method against the input, HR and baselines; write OUT/metrics.json."""
    from tcan_live.evaluate import Method
    from tcan_live.evaluate import evaluate as run_evaluation
    from tcan_live.evaluate.enhancers import checkpoint_enhancer, engine_enhancer
    from tcan_live.evaluate.run import BASELINES
    from tcan_live.model import read_checkpoint_meta

    console = plain_console(stderr=True)
    chosen = [
        flag
        for flag, value in (
            ("--engine", engine),
            ("--checkpoint", checkpoint),
            ("--baseline", baseline),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        fail(console, "give exactly one of --engine, --checkpoint or --baseline", INPUT_ERROR)
    if baseline is not None and baseline not in BASELINES:
        fail(console, f"--baseline {baseline!r}: expected one of {BASELINES}", INPUT_ERROR)
    scale = None
    with one_line_errors(console):
        if baseline is not None:
            method = Method(description=baseline, enhance=None, baseline=baseline)
        elif checkpoint is not None:
            scale = read_checkpoint_meta(checkpoint).scale
            method = Method(f"checkpoint {checkpoint}", checkpoint_enhancer(checkpoint))
        else:
            assert engine is not None
            method = Method(f"engine {engine}", engine_enhancer(engine))
        summary = run_evaluation(
            data,
            out,
            method,
            method_scale=scale,
            beads=beads,
            pixel_size_nm=pixel_size_nm,
            lr_iterations=lr_iterations,
            max_images=max_images,
        )
    for name, entry in summary.items():
        shown = ", ".join(
            f"{key} {value:.3g}" for key, value in entry.items() if isinstance(value, float)
        )
        typer.echo(f"{name}: {shown}")
    typer.echo(f"wrote {out / 'metrics.json'} and {out / 'report.md'}")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("evaluate")(evaluate)
