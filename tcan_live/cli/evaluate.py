"""``tcan-live evaluate``: the papers' metrics for a method, the input, STED and baselines."""

from __future__ import annotations

from pathlib import Path

import typer


def evaluate(
    data: str = typer.Option(..., "--data", help="Folder with lr/ (and hr/, gt/) or LR TIFFs."),
    out: str = typer.Option(..., "--out", help="Output folder for metrics.json, report.md."),
    engine: str | None = typer.Option(None, "--engine", help="Engine folder to evaluate."),
    checkpoint: str | None = typer.Option(
        None, "--checkpoint", help="Checkpoint (.safetensors) to evaluate in torch."
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Evaluate a baseline: lucy-richardson or bicubic."
    ),
    beads: bool | None = typer.Option(
        None, "--beads/--no-beads", help="Measure bead FWHM (default: if meta.json says beads)."
    ),
    pixel_size_nm: float | None = typer.Option(
        None, "--pixel-size-nm", help="Input pixel size for files without one."
    ),
    lr_iterations: int | None = typer.Option(
        None, "--lr-iterations", help="Fix Lucy-Richardson iterations (default: best PSNR)."
    ),
    max_images: int | None = typer.Option(None, "--max-images", help="Use the first N images."),
) -> None:
    """Measure a method against the input, HR and baselines; write OUT/metrics.json."""
    from tcan_live.core.tiff_files import ImageFileError
    from tcan_live.evaluate import Method
    from tcan_live.evaluate import evaluate as run_evaluation
    from tcan_live.evaluate.enhancers import checkpoint_enhancer, engine_enhancer
    from tcan_live.evaluate.run import BASELINES
    from tcan_live.model import CheckpointError, read_checkpoint_meta

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
        raise typer.BadParameter("give exactly one of --engine, --checkpoint or --baseline")
    scale = None
    try:
        if baseline is not None:
            if baseline not in BASELINES:
                raise typer.BadParameter(f"--baseline {baseline!r}: expected one of {BASELINES}")
            method = Method(description=baseline, enhance=None, baseline=baseline)
        elif checkpoint is not None:
            scale = read_checkpoint_meta(checkpoint).scale
            method = Method(f"checkpoint {checkpoint}", checkpoint_enhancer(checkpoint))
        else:
            assert engine is not None
            enhance = engine_enhancer(engine)
            method = Method(f"engine {engine}", enhance)
        summary = run_evaluation(
            Path(data),
            Path(out),
            method,
            method_scale=scale,
            beads=beads,
            pixel_size_nm=pixel_size_nm,
            lr_iterations=lr_iterations,
            max_images=max_images,
        )
    except (ImageFileError, CheckpointError, ValueError, RuntimeError) as error:
        typer.echo(f"error: {str(error).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None
    for name, entry in summary.items():
        shown = ", ".join(
            f"{key} {value:.3g}" for key, value in entry.items() if isinstance(value, float)
        )
        typer.echo(f"{name}: {shown}")
    typer.echo(f"wrote {Path(out) / 'metrics.json'} and {Path(out) / 'report.md'}")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("evaluate")(evaluate)
