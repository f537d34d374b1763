"""``tcan-live export-bioimageio ENGINE --out model.zip``: an engine as a zoo package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tcan_live.cli.errors import one_line_errors, plain_console, step_logger


def export_bioimageio(
    engine: Annotated[Path, typer.Argument(help="An engine folder, e.g. engines/actin-small.")],
    out: Annotated[Path, typer.Option("--out", help="The package to write, e.g. model.zip.")],
) -> None:
    """Write ENGINE as a BioImage.IO model package (spec 0.5, ONNX + pytorch_state_dict)."""
    from tcan_live.bioimageio.export import export_bioimageio as export

    console = plain_console()
    with one_line_errors(console):
        result = export(engine, out, log=step_logger(console))
    console.print(
        f"{result.package}: {result.name}, BioImage.IO model 0.5 ({', '.join(result.files)}); "
        f"test input {'x'.join(map(str, result.test_input_shape))}"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("export-bioimageio")(export_bioimageio)
