"""The ``tcan-live`` command: a thin typer layer over the library.

Each command group lives in its own module and registers itself on ``app`` below; heavy
imports (torch, onnxruntime, zarr) happen inside the commands so ``--version`` stays instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tcan_live.cli import (
    batch,
    bench,
    build_engine,
    demo,
    doctor,
    evaluate,
    export_bioimageio,
    fidelity,
    infer,
    model_info,
    preview,
    run,
    ship_engine,
    simulate,
    train,
    watch,
)
from tcan_live.cli.errors import log_to_console, plain_console
from tcan_live.core.version import __version__

app = typer.Typer(
    name="tcan-live",
    help="Live STED-like super-resolution beside your confocal microscope.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = plain_console()


def _print_version(value: bool) -> None:
    if value:
        console.print(f"tcan-live {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Live STED-like super-resolution beside your confocal microscope."""
    log_to_console()


model_info.register(app)
build_engine.register(app)
export_bioimageio.register(app)
infer.register(app)
bench.register(app)
preview.register(app)
simulate.register(app)
evaluate.register(app)
fidelity.register(app)
ship_engine.register(app)
train.register(app)
run.register(app)
watch.register(app)
batch.register(app)
demo.register(app)
doctor.register(app)
