"""How every command reports failure: one line per problem, and one exit-code rule.

* exit 2: the configuration or input cannot be used as given (a bad option, config field,
  file, engine folder or checkpoint); nothing was done with it;
* exit 1: the work itself failed while running (disk full, frames not written, an engine
  that failed its parity check, the daemon unable to run).

The library raises ``ValueError`` (and its subclasses) for bad input and ``OSError`` /
``RuntimeError`` for failures while running; :func:`exit_code_for` maps them. Messages are
printed as plain text, never as rich markup, so a file name holding ``[/]`` prints as it is.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from tcan_live.core.messages import one_line

INPUT_ERROR = 2
RUN_ERROR = 1


def plain_console(**options: Any) -> Console:
    """Return a console that prints strings as they are: no rich markup, no highlighting.

    Every command prints file names, channel names and messages that arrive from outside;
    read as markup, a name like ``a[/]b`` would end the program. Styling is done with
    ``rich.text.Text`` instead. Lines are not wrapped at the terminal's width (a path split
    over two lines cannot be copied, and a script reading the output sees one line per result);
    tables still fit the width.
    """
    options.setdefault("soft_wrap", True)
    return Console(markup=False, highlight=False, **options)


def exit_code_for(error: BaseException) -> int:
    """Return :data:`INPUT_ERROR` for bad configuration or input, else :data:`RUN_ERROR`."""
    parity = sys.modules.get("tcan_live.engine.parity")  # a parity refusal is a failed build
    if parity is not None and isinstance(error, parity.ParityError):
        return RUN_ERROR
    return INPUT_ERROR if isinstance(error, ValueError) else RUN_ERROR


def print_error(console: Console, message: str) -> None:
    """Print ``message`` as one ``error:`` line per line, as plain text."""
    for line in message.splitlines() or [""]:
        console.print(Text("error: ", style="red") + Text(line), soft_wrap=True, highlight=False)


def fail(console: Console, message: str, code: int) -> NoReturn:
    """Print ``message`` (see :func:`print_error`) and exit with ``code``."""
    print_error(console, message)
    raise typer.Exit(code)


@contextmanager
def one_line_errors(console: Console) -> Iterator[None]:
    """Report the library's errors raised inside in one line each, with the rule's exit code."""
    try:
        yield
    except (ValueError, OSError, RuntimeError) as error:
        fail(console, str(error), exit_code_for(error))


class _ConsoleLines(logging.Handler):
    """Prints the library's warnings and errors as ``warning:`` / ``error:`` lines on stderr.

    The stream is looked up at each record (not bound when the handler is made), so it follows
    whatever ``sys.stderr`` is at the time, a test runner's capture included.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            label = "error" if record.levelno >= logging.ERROR else record.levelname.lower()
            sys.stderr.write(f"{label}: {one_line(record.getMessage())}\n")
        except Exception:  # a log line must never end the command
            self.handleError(record)


def log_to_console() -> None:
    """Report the library's warnings and errors as they happen, one line each (idempotent)."""
    logger = logging.getLogger("tcan_live")
    if not any(isinstance(handler, _ConsoleLines) for handler in logger.handlers):
        handler = _ConsoleLines(level=logging.WARNING)
        logger.addHandler(handler)


def step_logger(console: Console) -> Callable[[str], None]:
    """Return a ``log`` callback that prints each step as an arrow line (plain text)."""
    return lambda line: console.print(
        Text("> ", style="cyan") + Text(line), soft_wrap=True, highlight=False
    )
