"""A batch run on a Dask cluster: plan the dataset, set up the store, run the tasks, journal.

The client plans every frame of the dataset from its metadata, asks one worker to derive the
output layout from the first usable frame (the daemon's :func:`layout_from_frame`, with the
worker's real engines), creates or reopens the OME-Zarr store with the daemon's sink, sizes
its t axis up front and skips every frame the store's journal already records as complete.
Tasks then read, enhance and write frames on the workers, each result as its own chunk; the
client journals each outcome as it returns (one writer), so a rerun after a killed worker or
client does only what is missing, and every frame is completed exactly once.

``fixed`` and ``running`` normalisation first measure the frames they need on the workers
(no inference) and follow the measured ranges here in acquisition order, so every frame gets
exactly the range the daemon's sequential stream would give it.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcan_live.batch.datasets import DatasetPlan, FrameRef, open_dataset
from tcan_live.batch.settings import BatchSettings
from tcan_live.batch.worker import (
    BatchJob,
    EnginePlugin,
    FrameOutcome,
    describe,
    enhance,
    failure_reason,
    measure,
)
from tcan_live.core.acquisition import ChannelInfo, FrameKey
from tcan_live.core.colors import default_color
from tcan_live.core.frame_check import FrameRejected
from tcan_live.engine.manifest import read_manifest
from tcan_live.metrics.intensity import IntensityRange
from tcan_live.model import NormalizationSpec
from tcan_live.runtime.normalize import Normalizer
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink

if TYPE_CHECKING:
    from distributed import Client, Future

#: Tasks kept queued per worker thread: enough to keep every worker busy, few enough that a
#: dataset of millions of frames never sits in the scheduler's memory at once.
TASKS_PER_THREAD = 4
#: Frames per layout-probing task: a dataset whose first frames are unusable still gets one.
_PROBE_FRAMES = 16


class BatchError(ValueError):
    """The run cannot start as asked (dataset, engines, store); the message says why."""


@dataclass
class BatchProgress:
    """Counts of a run, updated as outcomes arrive (read by the progress bar)."""

    total: int = 0
    already_done: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    megapixels: float = 0.0
    workers: set[str] = field(default_factory=set)

    @property
    def finished(self) -> int:
        """Frames this run has settled (written, skipped or failed)."""
        return self.written + self.skipped + self.failed


@dataclass(frozen=True)
class BatchSummary:
    """How a run ended.

    Attributes
    ----------
    frames
        Frames in the dataset.
    already_done
        Complete in the store before this run (an earlier run's).
    written, skipped, failed
        This run's outcomes; a failed frame is retried by the next run.
    megapixels, seconds
        Input pixels enhanced and the wall time of the tasks (after set-up).
    workers
        The workers that returned results (address and process id); more than the cluster's
        size when workers died and were replaced.
    failures
        (key, reason) of every skipped or failed frame.
    """

    frames: int
    already_done: int
    written: int
    skipped: int
    failed: int
    megapixels: float
    seconds: float
    workers: tuple[str, ...]
    failures: tuple[tuple[FrameKey, str], ...]

    @property
    def megapixels_per_s(self) -> float:
        """Throughput of this run's tasks."""
        return self.megapixels / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[BatchProgress], None]


@dataclass(frozen=True)
class PreparedBatch:
    """A run planned and checked before any cluster starts: its job, frames and engines."""

    job: BatchJob
    plan: DatasetPlan
    engines: dict[str, Path]


def prepare_batch(settings: BatchSettings) -> PreparedBatch:
    """Plan the input and check the engines' manifests, without a cluster (metadata only).

    Raises
    ------
    BatchError, DatasetError
        The input holds no usable frames, or a channel has no engine.
    EngineError
        An engine folder has no readable manifest.
    """
    dataset = open_dataset(settings.input)
    plan = dataset.plan(settings.mapper())
    if not plan.frames:
        raise BatchError(f"{settings.input}: no frames in this {dataset.kind} dataset")
    try:
        engines = settings.engines(plan.channels)
    except ValueError as error:
        raise BatchError(str(error)) from None
    for folder in dict.fromkeys(engines.values()):
        read_manifest(folder)  # a missing or unreadable engine fails here, before any cluster
    channels = tuple(
        ChannelInfo(name, default_color(name, i)) for i, name in enumerate(plan.channels)
    )
    job = BatchJob(
        dataset, settings, f"tcan-live-{uuid.uuid4().hex[:12]}", channels, plan.time_increment_s
    )
    return PreparedBatch(job, plan, engines)


def run_batch(
    batch: PreparedBatch | BatchSettings,
    client: Client,
    *,
    on_progress: ProgressCallback | None = None,
) -> BatchSummary:
    """Super-resolve a dataset into its OME-Zarr store on ``client``.

    Parameters
    ----------
    batch
        The run, prepared (:func:`prepare_batch`) or as settings (prepared here).
    client
        Connected to the cluster whose workers run the tasks.
    on_progress
        Called on this thread after every frame's outcome is journalled.

    Raises
    ------
    BatchError, DatasetError
        The input, the engines or the store cannot be used (nothing was written).
    EngineError
        A worker cannot load an engine.
    OutputFullError
        The disk of the store is full (frames journalled before are intact).
    """
    prepared = batch if isinstance(batch, PreparedBatch) else prepare_batch(batch)
    job = prepared.job
    client.register_plugin(EnginePlugin(job.plugin, prepared.engines, job.settings.engine_threads))
    try:
        return _run(job, prepared.plan, client, on_progress)
    finally:
        client.unregister_worker_plugin(job.plugin)


def _run(
    job: BatchJob, plan: DatasetPlan, client: Client, on_progress: ProgressCallback | None
) -> BatchSummary:
    settings = job.settings
    probe = client.submit(describe, plan.frames[:_PROBE_FRAMES], job, key=f"{job.plugin}-layout")
    try:
        layout = probe.result()
    except FrameRejected as error:
        raise BatchError(f"{settings.input}: no usable frame to start with: {error}") from None
    finally:
        probe.release()  # else a lost worker's copy of it would be computed again
    sink = OmeZarrSink(
        OutputConfig(
            path=settings.output,
            include_raw=False,  # the input is the raw data
            fsync=settings.fsync,
            time_increment_s=plan.time_increment_s,
        )
    )
    sink.setup(layout)
    try:
        sink.reserve(ref.key for ref in plan.frames)
        done = sink.completed()
        todo = [ref for ref in plan.frames if ref.key not in done]
        progress = BatchProgress(total=len(plan.frames), already_done=len(plan.frames) - len(todo))
        failures: list[tuple[FrameKey, str]] = []
        if on_progress is not None:
            on_progress(progress)
        started = time.perf_counter()
        ranges = _stream_ranges(job, plan, client, todo)
        for outcome in _outcomes(job, client, todo, ranges):
            _record(sink, outcome, progress, failures)
            if on_progress is not None:
                on_progress(progress)
        seconds = time.perf_counter() - started
    finally:
        sink.close()
    return BatchSummary(
        frames=progress.total,
        already_done=progress.already_done,
        written=progress.written,
        skipped=progress.skipped,
        failed=progress.failed,
        megapixels=progress.megapixels,
        seconds=seconds,
        workers=tuple(sorted(progress.workers)),
        failures=tuple(failures),
    )


def _record(
    sink: OmeZarrSink,
    outcome: FrameOutcome,
    progress: BatchProgress,
    failures: list[tuple[FrameKey, str]],
) -> None:
    fields = dict(outcome.fields)
    if outcome.reason:
        fields["reason"] = outcome.reason
    if outcome.worker:
        fields["worker"] = outcome.worker
        progress.workers.add(outcome.worker)
    if not sink.record_outcome(outcome.key, outcome.event, **fields):
        return  # completed already (a task that ran twice): counted once
    if outcome.event == "sr":
        progress.written += 1
        progress.megapixels += outcome.megapixels
        return
    if outcome.event == "skip":
        progress.skipped += 1
    else:
        progress.failed += 1
    failures.append((outcome.key, outcome.reason))


def _chunks(refs: Sequence[FrameRef], size: int) -> Iterator[Sequence[FrameRef]]:
    for first in range(0, len(refs), size):
        yield refs[first : first + size]


class _Window:
    """How many tasks to keep queued: grows as workers join (an adaptive cluster)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._checked = -math.inf
        self._size = TASKS_PER_THREAD

    @property
    def size(self) -> int:
        """Tasks per worker thread x the threads the cluster has now (rechecked every 2 s)."""
        now = time.monotonic()
        if now - self._checked > 2.0:
            self._checked = now
            threads = sum(self._client.nthreads().values())
            self._size = TASKS_PER_THREAD * max(1, threads)
        return self._size


def _task_key(job: BatchJob, what: str, refs: Sequence[FrameRef]) -> str:
    key = refs[0].key
    where = f"t{key.t}-{key.channel}-z{key.z}-p{key.p}-g{key.g}-r{key.run}"
    return f"{job.plugin}-{what}-{where}-{len(refs)}"


def _submitted(
    client: Client,
    job: BatchJob,
    what: str,
    function: Callable[..., Any],
    work: Sequence[tuple[Sequence[FrameRef], tuple[object, ...]]],
) -> Iterator[tuple[Sequence[FrameRef], Future[Any]]]:
    """Submit ``work`` a window at a time; yield each task's refs and future as it finishes."""
    from distributed import as_completed

    pending = iter(work)
    refs_of: dict[Any, Sequence[FrameRef]] = {}
    queue = as_completed()
    window = _Window(client)

    def fill() -> None:
        while len(refs_of) < window.size:
            refs, extra = next(pending, (None, ()))
            if refs is None:
                return
            future = client.submit(function, refs, job, *extra, key=_task_key(job, what, refs))
            refs_of[future.key] = refs
            queue.add(future)

    fill()
    for future in queue:
        refs = refs_of.pop(future.key)
        fill()
        yield refs, future


def _outcomes(
    job: BatchJob,
    client: Client,
    todo: Sequence[FrameRef],
    ranges: dict[FrameKey, IntensityRange | FrameOutcome] | None,
) -> Iterator[FrameOutcome]:
    """Run the enhancement tasks; yield every frame's outcome as its task returns."""
    work: list[tuple[Sequence[FrameRef], tuple[object, ...]]] = []
    for refs in _chunks(todo, job.settings.frames_per_task):
        if ranges is None:
            work.append((refs, ([None] * len(refs),)))
            continue
        ready = []
        for ref in refs:
            measured = ranges[ref.key]
            if isinstance(measured, FrameOutcome):  # the same checks refused it when measured
                yield measured
            else:
                ready.append(ref)
        if ready:
            work.append((ready, ([ranges[ref.key] for ref in ready],)))
    for refs, future in _submitted(client, job, "enhance", enhance, work):
        try:
            yield from future.result()
        except Exception as error:  # the task itself was lost (e.g. its workers kept dying)
            for ref in refs:
                yield FrameOutcome(ref.key, "failed", failure_reason(error))


def _stream_ranges(
    job: BatchJob, plan: DatasetPlan, client: Client, todo: Sequence[FrameRef]
) -> dict[FrameKey, IntensityRange | FrameOutcome] | None:
    """Each frame's range as the channel's sequential stream gives it (None: per-frame).

    Every frame up to the last one still to do is measured on the workers (one read and its
    percentiles, no inference) and followed here in time order, so a frame gets the range the
    daemon's stream would give it whatever ran before. A frame that cannot be measured is not
    part of the stream (as the daemon never enhances it) and keeps its outcome.
    """
    settings = job.settings
    if settings.normalization == "per-frame" or not todo:
        return None
    if settings.fixed_range is not None:
        given = IntensityRange(*settings.fixed_range)
        return {ref.key: given for ref in todo}
    last = max(ref.key.t for ref in todo)
    needed = sorted((ref for ref in plan.frames if ref.key.t <= last), key=lambda r: r.key.t)
    measured: dict[FrameKey, IntensityRange | FrameOutcome] = {}
    work = [(refs, ()) for refs in _chunks(needed, max(8, settings.frames_per_task))]
    for _, future in _submitted(client, job, "measure", measure, work):
        measured.update(future.result())
    ranges: dict[FrameKey, IntensityRange | FrameOutcome] = {}
    for channel in plan.channels:
        stream = Normalizer(
            _spec(job, channel),
            settings.normalization,
            fixed_frames=settings.fixed_frames,
            running_frames=settings.running_frames,
        )
        for ref in needed:
            if ref.key.channel == channel:
                own = measured[ref.key]
                ranges[ref.key] = stream.follow(own) if isinstance(own, IntensityRange) else own
    return ranges


def _spec(job: BatchJob, channel: str) -> NormalizationSpec:
    folder = job.settings.engines((channel,))[channel]
    return NormalizationSpec.model_validate(read_manifest(folder).normalization)
