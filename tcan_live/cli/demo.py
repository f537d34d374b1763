"""``tcan-live demo``: a simulated dual-colour time-lapse through the whole daemon.

Acquired by a real pymmcore-plus MDA, super-resolved with the shipped default engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tcan_live.cli.daemon_support import DashboardOption
from tcan_live.cli.errors import plain_console

# The repository's engines/ beside the package (the editable install `make` sets up), so the
# demo finds the shipped engines from any working directory.
SHIPPED_ENGINES = Path(__file__).resolve().parents[2] / "engines"

if TYPE_CHECKING:
    from tcan_live.daemon.demo import DemoResult


def _axes(result: DemoResult) -> str:
    """Name the acquired axes, leaving out the ones of length one."""
    parts = [f"{result.frames} time points", "2 channels"]
    if result.positions > 1:
        parts.insert(0, f"{result.positions} positions")
    if result.z_slices > 1:
        parts.append(f"{result.z_slices} z slices")
    return " x ".join(parts)


def _summary(result: DemoResult) -> Table:
    stats = result.stats
    table = Table(title="tcan-live demo", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = (
        ("acquired", f"{stats.received} frames ({_axes(result)})"),
        ("super-resolved", f"{stats.enhanced} frames, {stats.skipped} skipped"),
        ("lost", str(stats.frames_lost)),
        ("raw pixels", f"{result.raw_pixel_size_nm:g} nm"),
        ("speed", f"{stats.megapixels_per_s:.2f} MP/s input, averaged since start"),
        ("latency", f"p50 {stats.latency_ms_p50:.0f} ms, p95 {stats.latency_ms_p95:.0f} ms"),
        ("acquisition", f"{result.acquisition_s:.1f} s (MDA incl. simulation)"),
        ("total", f"{result.total_s:.1f} s"),
        ("output", str(result.store)),
        ("composite", str(result.composite) if result.composite else "-"),
    )
    for row in rows:
        table.add_row(*row)
    return table


def demo(
    frames: Annotated[int, typer.Option("--frames", min=1, help="Time points.")] = 10,
    size: Annotated[int, typer.Option("--size", min=32, help="Image side in pixels.")] = 256,
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "demo-output"
    ),
    engines_dir: Annotated[
        Path,
        typer.Option(
            "--engines-dir",
            help="Holds microtubules-small and actin-small (default: the shipped engines/).",
        ),
    ] = SHIPPED_ENGINES,
    preview: Annotated[
        bool, typer.Option("--preview/--no-preview", help="Publish previews on loopback.")
    ] = True,
    dashboard: DashboardOption = True,
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 0,
    z_slices: Annotated[
        int, typer.Option("--z", min=1, max=64, help="z slices per stack (0.5 um apart).")
    ] = 1,
    positions: Annotated[
        int, typer.Option("--positions", min=1, max=16, help="Stage positions (200 um apart).")
    ] = 1,
) -> None:
    """Simulate microtubules + actin, acquire them with pymmcore-plus, super-resolve live."""
    import threading
    from contextlib import ExitStack

    from tcan_live.cli.daemon_support import runtime_errors
    from tcan_live.cli.errors import exit_code_for, fail
    from tcan_live.daemon.dashboard import Dashboard, stop_on_signals
    from tcan_live.daemon.demo import run_demo
    from tcan_live.daemon.service import Daemon

    console = plain_console()
    stop = threading.Event()
    with ExitStack() as stack:
        stack.enter_context(stop_on_signals(stop))
        boards: list[Dashboard] = []

        def on_start(daemon: Daemon) -> None:
            if dashboard and console.is_terminal:
                boards.append(stack.enter_context(Dashboard(daemon, console)))
            elif daemon.publisher is not None:
                console.print(f"previews on {daemon.publisher.endpoint}")

        def on_tick() -> None:
            for board in boards:
                board.refresh()

        console.print(
            f"tcan-live demo: simulating {frames} time points of {size} x {size} px"
            + (f" at {positions} positions" if positions > 1 else "")
            + (f", {z_slices} z slices each" if z_slices > 1 else "")
        )
        try:
            result = run_demo(
                frames=frames,
                size=size,
                out=out,
                engines_dir=engines_dir,
                preview=preview,
                seed=seed,
                z_slices=z_slices,
                positions=positions,
                stop=stop,
                on_start=on_start,
                on_tick=on_tick,
            )
        except runtime_errors() as error:
            fail(console, str(error), exit_code_for(error))
    console.print(_summary(result))
    if result.interrupted:
        console.print("interrupted: the frames acquired so far are in the store")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("demo")(demo)
