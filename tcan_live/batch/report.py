"""What a batch run shows: a rich progress bar while it runs and a summary at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tcan_live.batch.run import BatchProgress, BatchSummary, ProgressCallback


@contextmanager
def progress_bar(console: Console, enabled: bool = True) -> Iterator[ProgressCallback]:
    """Yield a callback that draws a run's progress (frames, MP/s, failures, workers)."""
    if not enabled:
        yield lambda progress: None
        return
    bar = Progress(
        TextColumn("[bold]super-resolving"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    )
    task = bar.add_task("", total=None, status="")
    started = time.perf_counter()

    def update(progress: BatchProgress) -> None:
        rate = progress.megapixels / max(time.perf_counter() - started, 1e-9)
        status = f"{rate:.3f} MP/s  {len(progress.workers)} workers"
        if progress.skipped or progress.failed:
            status += f"  [yellow]{progress.skipped} skipped, {progress.failed} failed"
        bar.update(
            task,
            total=progress.total - progress.already_done,
            completed=progress.finished,
            status=status,
        )

    with bar:
        yield update


def summary_lines(summary: BatchSummary, workers: int | None) -> list[str]:
    """Return the end-of-run summary, one line per fact (plain text)."""
    size = f"{workers} workers" if workers is not None else "the cluster's workers"
    lines = [
        f"frames: {summary.frames} in the dataset; {summary.written} written, "
        f"{summary.skipped} skipped, {summary.failed} failed this run; "
        f"{summary.already_done} done by an earlier run",
        f"throughput: {summary.megapixels:.2f} MP in {summary.seconds:.1f} s = "
        f"{summary.megapixels_per_s:.3f} MP/s on {size} "
        f"({len(summary.workers)} worker processes returned results)",
    ]
    for key, reason in summary.failures[:10]:
        lines.append(f"{key.describe()}: {reason}")
    if len(summary.failures) > 10:
        lines.append(f"... and {len(summary.failures) - 10} more (see the store's journal)")
    if summary.failed:
        lines.append("failed frames are retried by running the same command again")
    return lines
