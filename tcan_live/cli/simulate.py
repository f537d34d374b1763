"""``tcan-live simulate``: write a simulated LR/HR data set (lr/, hr/, gt/, meta.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def simulate(
    structure: Annotated[
        str, typer.Option("--structure", help="beads, microtubules, actin or rings.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    count: Annotated[int, typer.Option("--count", min=1, help="Number of image pairs.")] = 8,
    size: Annotated[int, typer.Option("--size", min=16, help="HR image side in pixels.")] = 256,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; image i is drawn from (seed, i).")
    ] = 0,
    preset_name: Annotated[
        str,
        typer.Option(
            "--preset", help="confocal-sted, widefield-10x-20x or widefield-sim (scale 2)."
        ),
    ] = "confocal-sted",
    photons: Annotated[
        float | None,
        typer.Option("--photons", help="Peak photons of the brightest LR structure (default 100)."),
    ] = None,
    sted_saturation: Annotated[
        float | None,
        typer.Option("--sted-saturation", help="Depletion strength zeta (default 6; ~110 nm)."),
    ] = None,
) -> None:
    """Simulate COUNT image pairs of STRUCTURE into OUT."""
    from pydantic import ValidationError

    from tcan_live.core.settings import validation_problems
    from tcan_live.simulate import preset
    from tcan_live.simulate.dataset import write_dataset

    overrides: dict[str, object] = {}
    if photons is not None:
        overrides["photons"] = photons
    if sted_saturation is not None:
        overrides["sted_saturation"] = sted_saturation
    try:
        config = preset(preset_name, **overrides)
        meta = write_dataset(out, structure, count, size, seed, config)
    except ValidationError as error:
        raise typer.BadParameter(validation_problems(error)[0]) from None
    except ValueError as error:
        raise typer.BadParameter(str(error).splitlines()[0]) from None
    pixel = meta["pixel_size_nm"]
    typer.echo(
        f"wrote {count} {structure} pairs ({size} px, HR {pixel['hr']:g} nm, "
        f"LR {pixel['lr']:g} nm) to {out}"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("simulate")(simulate)
