"""``tcan-live watch DIR --out OUT.zarr``: super-resolve what an acquisition writes to DIR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tcan_live.cli.daemon_support import DashboardOption, DrainOption
from tcan_live.cli.engine_options import EngineForOption, EngineOption, engines_by_channel
from tcan_live.cli.errors import plain_console

if TYPE_CHECKING:
    from tcan_live.daemon.config import DaemonConfig


def watch_config(
    folder: Path,
    out: Path,
    *,
    engine: Path | None,
    engine_for: dict[str, str],
    channels: list[str],
    config: Path | None,
    pixel_size_nm: float | None,
    process_existing: bool,
    polling: bool,
) -> DaemonConfig:
    """Build the daemon config of ``tcan-live watch`` (from a config file, or the options)."""
    from tcan_live.core.settings import ConfigError
    from tcan_live.daemon.config import load_config, parse_config

    watch: dict[str, Any] = {"kind": "watch", "root": str(folder)}
    watch |= {"process_existing": process_existing, "polling": polling}
    if pixel_size_nm is not None:
        watch["pixel_size_nm"] = pixel_size_nm
    if config is not None:
        if engine is not None or engine_for or channels:
            raise ConfigError("command line", ["give --config or engines, not both"])
        loaded = load_config(config)
        document: dict[str, Any] = loaded.model_dump(mode="json", exclude_unset=True)
        if loaded.source.kind == "watch":  # keep its pattern, aliases, settle times, ...
            watch = {**document["source"], **watch}
        document["source"] = watch
        document["output"] = {**document["output"], "path": str(out)}
        return parse_config(document, base_dir=Path.cwd(), origin=str(config))
    table = dict(engine_for)
    if engine is not None:
        table |= {name: str(engine) for name in channels or ["default"]}
    elif channels:
        raise ConfigError("command line", ["--channel needs --engine"])
    if not table:
        raise ConfigError("command line", ["give --engine, --engine-for CHANNEL=E or --config"])
    watch["default_channel"] = next(iter(table))
    document = {
        "source": watch,
        "channels": {name: {"engine": folder} for name, folder in table.items()},
        "output": {"path": str(out)},
    }
    return parse_config(document, base_dir=Path.cwd(), origin="command line")


def watch(
    folder: Annotated[Path, typer.Argument(help="The folder the acquisition writes into.")],
    out: Annotated[Path, typer.Option("--out", help="The OME-Zarr output, e.g. OUT.zarr.")],
    engine: EngineOption = None,
    engine_for: EngineForOption = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="Channel names using --engine (default: 'default')."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Channels, output, preview from a config.")
    ] = None,
    pixel_size: Annotated[
        float | None, typer.Option("--pixel-size", help="Pixel size in nm (overrides files).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Process what is there now, then exit.")
    ] = False,
    process_existing: Annotated[
        bool, typer.Option("--process-existing", help="Also take files already there.")
    ] = False,
    polling: Annotated[
        bool, typer.Option("--polling", help="Polling observer (network shares).")
    ] = False,
    drain: DrainOption = False,
    dashboard: DashboardOption = True,
) -> None:
    """Super-resolve every frame written under FOLDER into OUT until Ctrl-C (or --once)."""
    from tcan_live.cli.daemon_support import build_daemon, report_summary, runtime_errors, serve
    from tcan_live.cli.errors import exit_code_for, fail

    console = plain_console()
    daemon = build_daemon(
        console,
        lambda: watch_config(
            folder,
            out,
            engine=engine,
            engine_for=engines_by_channel(engine_for or []),
            channels=channel or [],
            config=config,
            pixel_size_nm=pixel_size,
            process_existing=process_existing,
            polling=polling,
        ),
    )
    if not once:
        serve(daemon, console, dashboard=dashboard, drain=drain)
        return
    try:
        taken = daemon.run_once()
    except runtime_errors() as error:
        daemon.stop()
        fail(console, str(error), exit_code_for(error))
    report_summary(daemon, console, f"summary: {taken} frames taken from {folder}")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("watch")(watch)
