"""``tcan-live simulate``: write a simulated LR/HR data set (lr/, hr/, gt/, meta.json)."""

from __future__ import annotations

import typer


def simulate(
    structure: str = typer.Option(..., "--structure", help="beads, microtubules, actin or rings."),
    count: int = typer.Option(8, "--count", help="Number of image pairs."),
    size: int = typer.Option(256, "--size", help="HR image side in pixels."),
    seed: int = typer.Option(
        0, "--seed", help="Random seed; image i is drawn from the seed pair (seed, i)."
    ),
    out: str = typer.Option(..., "--out", help="Output folder."),
    preset_name: str = typer.Option(
        "confocal-sted",
        "--preset",
        help="confocal-sted, widefield-10x-20x or widefield-sim (scale 2).",
    ),
    photons: float | None = typer.Option(
        None, "--photons", help="Peak photons of the brightest LR structure (default 100)."
    ),
    sted_saturation: float | None = typer.Option(
        None, "--sted-saturation", help="Depletion strength zeta (default 6; ~110 nm)."
    ),
) -> None:
    """Simulate COUNT image pairs of STRUCTURE into OUT."""
    from pydantic import ValidationError

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
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "config"
        raise typer.BadParameter(f"{field}: {first['msg']}") from None
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
