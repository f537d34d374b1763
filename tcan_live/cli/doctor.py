"""``tcan-live doctor OUT.zarr``: check a store independently, and say what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from tcan_live.cli.errors import RUN_ERROR, fail, one_line_errors, plain_console


def doctor(
    store: Annotated[Path, typer.Argument(help="A tcan-live OME-Zarr store (OUT.zarr).")],
) -> None:
    """Check every chunk, the journal against the arrays, shapes, pending and skipped frames.

    Exit 0 when the store is sound (notes may still say what is pending), 1 when it is
    damaged, 2 when it is not a tcan-live store.
    """
    from tcan_live.sinks.doctor import examine_store

    console = plain_console()
    with one_line_errors(console):
        report = examine_store(store)
    counts = ", ".join(f"{count} {state}" for state, count in report.counts.items())
    console.print(f"{store}: {counts or 'no frames'}")
    for note in report.notes:
        console.print(Text("note: ", style="yellow") + Text(note))
    if not report.healthy:
        fail(console, "\n".join(report.damage), RUN_ERROR)
    console.print(Text("healthy: every chunk decodes, journal and arrays agree", style="green"))


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("doctor")(doctor)
