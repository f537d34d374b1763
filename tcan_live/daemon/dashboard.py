"""The daemon's live terminal dashboard and its end-of-run summary (rich)."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tcan_live.daemon.service import Daemon


def _number(value: object, unit: str = "", digits: int = 1) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.{digits}f}{unit}"
    return "-"


def status_table(daemon: Daemon, title: str = "tcan-live", final: bool = False) -> Table:
    """Tabulate the counters: frames in/out, backlog, memory, speed, latency, errors, QC.

    ``final``: the daemon has stopped, so frames lost can be counted (while running, frames
    in flight between the pipeline's threads would blur that count).
    """
    stats = daemon.stats()
    limits = daemon.config.performance
    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")

    def row(what: str, value: str) -> None:
        # Text, not markup: paths, file names and messages may hold "[/]" and the like.
        table.add_row(Text(what), Text(value))

    row("source", daemon.config.source.kind)
    row("output", str(daemon.output))
    if daemon.publisher is not None:
        sent = daemon.publisher.stats
        row("previews", f"{daemon.publisher.endpoint}  sent {sent.sent}")
    row("frames in", f"{stats.received} (+{stats.resumed} resumed from the store)")
    row("progress", daemon.progress.describe())
    row("frames out", f"{stats.enhanced} super-resolved, {stats.skipped} skipped")
    kept = daemon.store.rejected_dir().relative_to(daemon.output.parent)
    row("rejected", f"{stats.rejected} (kept in {kept})")
    row("backlog", f"{stats.backlog} frames waiting")
    row(
        "in memory",
        f"{stats.in_memory} frames (peak {stats.in_memory_peak}, limit "
        f"{limits.max_frames_in_memory})",
    )
    row("speed", f"{stats.megapixels_per_s:.2f} MP/s (input pixels)")
    row(
        "latency",
        f"p50 {stats.latency_ms_p50:.0f} ms  p95 {stats.latency_ms_p95:.0f} ms",
    )
    if final:
        row("lost", str(stats.frames_lost))
    last_error = daemon.errors[-1] if daemon.errors else ""
    row("errors", f"{stats.errors} {last_error}".strip())
    last_warning = daemon.warnings[-1] if daemon.warnings else ""
    row("warnings", f"{stats.warnings} {last_warning}".strip())
    row("flagged", f"{stats.flagged} frames disagree with their data (see qc in the journal)")
    for channel, qc in sorted(daemon.last_qc.items()):
        row(
            f"QC {channel}",
            f"t={qc.get('t')}  mean in {_number(qc.get('input_mean'))} out "
            f"{_number(qc.get('output_mean'))}  resolution "
            f"{_number(qc.get('resolution_nm'), ' nm', 0)}" + _confidence(qc),
        )
    return table


def _confidence(qc: dict[str, Any]) -> str:
    """Return the consistency figures of a frame's QC, if its stream computes them."""
    if "consistency_rsp" not in qc:
        return ""
    text = (
        f"  RSP {_number(qc.get('consistency_rsp'), digits=3)}  residual/noise "
        f"{_number(qc.get('residual_to_noise'), digits=2)}  outliers "
        f"{_number(100 * float(qc.get('outlier_fraction') or 0.0), ' %', 2)}"
    )
    return text + ("  FLAGGED" if qc.get("flagged") else "")


class Dashboard:
    """A live view of :func:`status_table`, refreshed by :meth:`refresh`."""

    def __init__(self, daemon: Daemon, console: Console | None = None) -> None:
        self.daemon = daemon
        self._live = Live(status_table(daemon), console=console or Console(), refresh_per_second=4)

    def __enter__(self) -> Dashboard:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.refresh()
        self._live.__exit__(None, None, None)

    def refresh(self) -> None:
        """Redraw with the current counters."""
        self._live.update(status_table(self.daemon))


@contextmanager
def dashboard_or_quiet(
    daemon: Daemon, enabled: bool, console: Console
) -> Iterator[Dashboard | None]:
    """Yield a running dashboard when ``enabled`` and the console is a terminal, else None."""
    if not (enabled and console.is_terminal):
        yield None
        return
    with Dashboard(daemon, console) as dashboard:
        yield dashboard


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT (Ctrl-C) and SIGTERM while inside (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
