"""Shared CLI plumbing: one-line errors and step logs on a rich console."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console


@contextmanager
def one_line_errors(console: Console) -> Iterator[None]:
    """Print a ``ValueError`` (the library's bad-input errors) as one red line, exit 1."""
    try:
        yield
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}", soft_wrap=True)
        raise typer.Exit(1) from None


def step_logger(console: Console) -> Callable[[str], None]:
    """Return a ``log`` callback that prints each step as an arrow line."""
    return lambda line: console.print(f"[cyan]>[/cyan] {line}", soft_wrap=True)
