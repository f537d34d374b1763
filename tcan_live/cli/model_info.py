"""``tcan-live model-info``: parameter counts and FLOPs of a generator preset."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tcan_live.cli.errors import plain_console


def model_info(
    preset: Annotated[str, typer.Argument(help="Generator preset: paper, small, dfcan or unet.")],
    scale: Annotated[
        int, typer.Option("--scale", help="1 (confocal -> STED) or 2 (-> SIM style).")
    ] = 1,
    tile: Annotated[
        int, typer.Option("--tile", min=16, help="Tile size for the FLOP count.")
    ] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print parameter counts per branch and FLOPs per input pixel of a PRESET."""
    from tcan_live.model import build_generator
    from tcan_live.model.complexity import flops_per_input_pixel, parameter_counts

    try:
        generator = build_generator(preset, scale)
    except ValueError as error:
        raise typer.BadParameter(str(error).splitlines()[0]) from None
    report = {
        "preset": preset,
        "scale": scale,
        "tile": tile,
        "parameters": parameter_counts(generator),
        "flops_per_input_pixel": flops_per_input_pixel(generator.config, tile),
        "architecture": generator.config.model_dump(mode="json"),
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"TCAN preset '{preset}', scale {scale}")
    table.add_column("part")
    table.add_column("parameters", justify="right")
    for part, count in report["parameters"].items():  # type: ignore[attr-defined]
        table.add_row(part, f"{count:,}")
    console = plain_console()
    console.print(table)
    mflops = report["flops_per_input_pixel"] / 1e6  # type: ignore[operator]
    console.print(f"FLOPs per input pixel ({tile} x {tile} tile): {mflops:.3f} M")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("model-info")(model_info)
