"""``tcan-live fidelity``: noise-only structure, intensity linearity and flicker of an engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tcan_live.cli.errors import INPUT_ERROR, fail, one_line_errors, plain_console


def fidelity(
    structure: Annotated[
        str, typer.Option("--structure", help="Simulated sample for linearity and flicker.")
    ],
    engine: Annotated[
        Path | None, typer.Option("--engine", help="Engine folder to measure.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Checkpoint (.safetensors) to measure in torch."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the figures to this JSON file.")
    ] = None,
) -> None:
    """Measure, on fixed simulated data at the engine's own pixel size, what it invents.

    Noise-only frames (offset 100 plus Poisson background 3, 20, 200; 256 px) against a
    Gaussian smoothing of sigma 1.5 px; output/input per intensity decile after re-blurring;
    time-lapse flicker inside the cell against the input's.
    """
    from tcan_live.engine.loaded_engine import Engine
    from tcan_live.evaluate.enhancers import runtime_enhancer
    from tcan_live.evaluate.fidelity import fidelity as measure

    console = plain_console(stderr=True)
    if (engine is None) == (checkpoint is None):
        fail(console, "give exactly one of --engine or --checkpoint", INPUT_ERROR)
    with one_line_errors(console):
        if engine is not None:
            from tcan_live.engine.load import load_engine

            loaded = load_engine(engine)
        else:
            assert checkpoint is not None
            loaded = Engine.from_checkpoint(checkpoint)
        report = measure(
            runtime_enhancer(loaded), loaded.pixel_size_nm, structure, scale=loaded.scale
        )
    figures = report.to_dict()
    for entry in report.noise_only:
        verdict = "PASS" if entry.ratio <= 1.0 else "MISSED"
        typer.echo(
            f"noise-only background {entry.background:g}: std/mean {entry.output:.4g} vs "
            f"control {entry.control:.4g} ({entry.ratio:.2f}x) {verdict}"
        )
    deciles = " ".join(f"{value:.2f}" for value in report.linearity)
    worst = max(abs(value - 1.0) for value in report.linearity)
    typer.echo(
        f"linearity per decile: {deciles} (worst {worst:.0%} off); background "
        f"{report.background:.2f}"
    )
    typer.echo(
        f"flicker: output {report.flicker_output:.4f}, input {report.flicker_input:.4f} "
        f"({report.flicker_output / report.flicker_input:.2f}x)"
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("fidelity")(fidelity)
