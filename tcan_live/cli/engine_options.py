"""The engine options of the commands that super-resolve datasets (``watch``, ``batch``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EngineOption = Annotated[
    Path | None, typer.Option("--engine", help="Engine folder for every channel.")
]
EngineForOption = Annotated[
    list[str] | None,
    typer.Option("--engine-for", help="CHANNEL=ENGINE_FOLDER, repeatable."),
]


def engines_by_channel(specs: list[str]) -> dict[str, str]:
    """Parse ``--engine-for CHANNEL=ENGINE_FOLDER`` options into a table."""
    channels: dict[str, str] = {}
    for spec in specs:
        name, sep, engine = spec.partition("=")
        if not sep or not name or not engine:
            raise typer.BadParameter(f"{spec!r}: expected CHANNEL=ENGINE_FOLDER")
        channels[name] = engine
    return channels
