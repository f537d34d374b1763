"""What ``tcan-live run``, ``watch`` and ``demo`` share.

Building a daemon with one-line errors and the exit-code rule of :mod:`tcan_live.cli.errors`
(2: bad configuration or input, 1: failed while running), and serving it until stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tcan_live.cli.errors import INPUT_ERROR, RUN_ERROR, exit_code_for, fail

if TYPE_CHECKING:
    from tcan_live.daemon.config import DaemonConfig
    from tcan_live.daemon.service import Daemon

# Options the daemon commands share, declared once.
DrainOption = Annotated[
    bool,
    typer.Option(
        "--drain/--no-drain",
        help="On Ctrl-C/SIGTERM finish enhancing the backlog (default: leave it pending "
        "in the output store for the next run).",
    ),
]
DashboardOption = Annotated[
    bool, typer.Option("--dashboard/--no-dashboard", help="Live dashboard (TTY only).")
]


def runtime_errors() -> tuple[type[Exception], ...]:
    """Errors the daemon reports in one line (exit code: ``errors.exit_code_for``)."""
    return (OSError, ValueError, RuntimeError)


def build_daemon(console: Console, make_config: Callable[[], DaemonConfig]) -> Daemon:
    """Validate the configuration and build the daemon, exiting with a one-line error."""
    from tcan_live.core.settings import ConfigError
    from tcan_live.daemon.service import Daemon

    try:
        config = make_config()
    except ConfigError as error:
        fail(console, str(error), INPUT_ERROR)
    try:
        return Daemon(config)
    except runtime_errors() as error:
        fail(console, str(error), exit_code_for(error))


def serve(daemon: Daemon, console: Console, *, dashboard: bool, drain: bool) -> None:
    """Run until Ctrl-C/SIGTERM (or a replay source's end), then print the summary."""
    import threading

    from tcan_live.core.settings import ConfigError
    from tcan_live.daemon.dashboard import dashboard_or_quiet, stop_on_signals
    from tcan_live.daemon.service import run_until

    kind = daemon.source_kind.name
    if daemon.source_kind.in_process:
        daemon.stop()
        fail(
            console,
            f"source.kind = {kind!r} runs inside your acquisition script (Daemon(config) in "
            "Python, see docs/daemon.md); the command serves sources that run on their own "
            "(e.g. watch and replay)",
            INPUT_ERROR,
        )
    stop = threading.Event()
    with stop_on_signals(stop), dashboard_or_quiet(daemon, dashboard, console) as board:
        console.print(
            f"tcan-live: {kind} source -> {daemon.output}; Ctrl-C stores every received frame "
            + ("and finishes the backlog" if drain else "and leaves the backlog for the next run"),
            soft_wrap=True,
        )
        try:
            run_until(daemon, stop, drain=drain, on_tick=board.refresh if board else None)
        except ConfigError as error:
            daemon.stop()
            fail(console, str(error), INPUT_ERROR)
        except runtime_errors() as error:
            daemon.stop()
            fail(console, str(error), exit_code_for(error))
    report_summary(daemon, console, "summary")


def report_summary(daemon: Daemon, console: Console, title: str) -> None:
    """Print the final status table; exit 1 when frames were received but not written.

    A frame not written (disk full, unreadable raw) is still in the source files or pending in
    the output store, so the message says how to complete it rather than calling it gone.
    """
    from tcan_live.daemon.dashboard import status_table

    console.print(status_table(daemon, title, final=True))
    missing = daemon.stats().frames_lost
    if missing:
        fail(
            console,
            f"{missing} frame(s) received but not written to {daemon.output} (errors above); "
            "frames already written are intact: fix the cause and rerun the same command to "
            "complete them",
            RUN_ERROR,
        )
