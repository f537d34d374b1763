"""``tcan-live run --config FILE``: the acquisition daemon as configured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tcan_live.cli.daemon_support import DashboardOption, DrainOption
from tcan_live.cli.errors import plain_console


def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Daemon config (TOML).")],
    drain: DrainOption = False,
    dashboard: DashboardOption = True,
) -> None:
    """Run the daemon described by a config file until Ctrl-C (watch and replay sources)."""
    from tcan_live.cli.daemon_support import build_daemon, serve
    from tcan_live.daemon.config import load_config

    console = plain_console()
    daemon = build_daemon(console, lambda: load_config(config))
    serve(daemon, console, dashboard=dashboard, drain=drain)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("run")(run)
