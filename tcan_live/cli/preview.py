"""``tcan-live preview``: watch live previews in the terminal, save PNGs, open a window."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live

from tcan_live.cli.errors import INPUT_ERROR, RUN_ERROR, fail, plain_console
from tcan_live.preview.config import DEFAULT_ADDRESS


def preview(
    address: Annotated[
        str, typer.Argument(help="Publisher endpoint to connect to.")
    ] = DEFAULT_ADDRESS,
    save_dir: Annotated[
        Path | None,
        typer.Option("--save-dir", help="Save every preview as a PNG (dual-colour composite)."),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Exit after this many previews.")
    ] = None,
    window: Annotated[
        bool, typer.Option("--window", help="Show previews in an on-screen window.")
    ] = False,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic", help="Topic prefix to receive (sr/, raw/, composite/); repeatable."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.0, help="Exit with an error after this many idle seconds."),
    ] = None,
    server_key: Annotated[
        Path | None,
        typer.Option("--server-key", help="The publisher's CURVE public key certificate (.key)."),
    ] = None,
) -> None:
    """Connect to a running daemon's preview publisher and show what arrives."""
    from tcan_live.preview.monitor import PreviewMonitor
    from tcan_live.preview.snapshots import CompositeBuilder, SnapshotWriter
    from tcan_live.preview.subscriber import PreviewSubscriber
    from tcan_live.preview.window import PreviewWindow, display_problem

    console = plain_console()
    viewer: PreviewWindow | None = None
    if window:
        problem = display_problem()
        if problem is None:
            try:
                viewer = PreviewWindow(f"tcan-live {address}")
            except RuntimeError as error:
                problem = str(error)
        if problem is not None:
            fail(console, problem, INPUT_ERROR)
    snapshots = SnapshotWriter(save_dir) if save_dir is not None else None
    monitor = PreviewMonitor()
    views = CompositeBuilder()
    try:
        subscriber = PreviewSubscriber(
            address, topics=topic or [""], timeout=timeout, server_key=server_key
        )
    except (OSError, ValueError) as error:
        fail(console, f"preview subscriber for {address}: {error}", INPUT_ERROR)
    timed_out = False
    with subscriber, Live(monitor.table(address, 0), console=console, auto_refresh=False) as live:
        try:
            for item in subscriber:
                monitor.update(item)
                if snapshots is not None or viewer is not None:
                    rgb = views.rgb_for(item)
                if snapshots is not None:
                    snapshots.save(item, rgb)
                if viewer is not None:
                    viewer.show(rgb, f"{item.topic}  t={item.t}")
                    if viewer.closed:
                        break
                live.update(monitor.table(address, subscriber.errors), refresh=True)
                if count is not None and monitor.received >= count:
                    break
            else:
                timed_out = True  # the subscriber's iteration ends only on its timeout
        except KeyboardInterrupt:
            pass
        live.update(monitor.table(address, subscriber.errors), refresh=True)
    if snapshots is not None:
        console.print(f"saved {len(snapshots.saved)} PNG snapshots to {save_dir}")
    if timed_out:
        wanted = "" if count is None else f" of {count}"
        message = f"received {monitor.received}{wanted} previews from {address}, then none"
        fail(console, f"{message} for {timeout} s", RUN_ERROR)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("preview")(preview)
