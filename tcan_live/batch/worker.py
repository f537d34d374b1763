"""What runs on the Dask workers: the engines, loaded once per worker, and the batch tasks.

:class:`EnginePlugin` is a ``distributed`` worker plugin: registered once by the client, it
loads every engine of the run when a worker starts (also a worker that replaces one that died)
and closes them when the run ends. The tasks read their frames from the dataset, check them
exactly as the daemon does (the source's frame check through the
:class:`~tcan_live.sources.files.mapping.FrameMapper`, then the enhancer's check), enhance
them with the runtime's :class:`~tcan_live.runtime.enhancer.Enhancer` and write each result as
its own whole chunk of the output store. The client alone keeps the store's journal, from the
outcomes the tasks return.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from distributed import WorkerPlugin, get_worker

from tcan_live.batch.datasets import Dataset, FrameRef, read_frame
from tcan_live.batch.settings import BatchSettings
from tcan_live.core.acquisition import (
    AcquisitionLayout,
    ChannelInfo,
    EnhanceResult,
    Frame,
    FrameKey,
)
from tcan_live.core.frame_check import FrameRejected
from tcan_live.engine.load import load_engine
from tcan_live.engine.loaded_engine import Engine
from tcan_live.engine.ort_backend import cpu_threads
from tcan_live.metrics.intensity import IntensityRange
from tcan_live.pipeline.layout import layout_from_frame
from tcan_live.runtime.enhancer import Enhancer
from tcan_live.sinks.omezarr import write_sr_chunk
from tcan_live.sources.files.file_frame import IncompleteFileError

if TYPE_CHECKING:
    from distributed import Worker

log = logging.getLogger(__name__)

Event = Literal["sr", "skip", "failed"]


@dataclass(frozen=True)
class BatchJob:
    """What every task of one run needs: the dataset, the settings and the plugin's name."""

    dataset: Dataset
    settings: BatchSettings
    plugin: str
    channels: tuple[ChannelInfo, ...]
    time_increment_s: float | None = None


@dataclass(frozen=True)
class FrameOutcome:
    """What became of one frame in a task, for the client to journal.

    Attributes
    ----------
    key
        (t, channel).
    event
        ``sr`` (written), ``skip`` (the frame cannot be enhanced: ``reason``) or ``failed``
        (this attempt failed: ``reason``; a rerun tries again).
    fields
        Journal fields: origin, pixel size, QC figures.
    megapixels
        Input pixels enhanced (0 unless written), in millions.
    worker
        The worker's address and process id, ``tcp://host:port pid N``.
    """

    key: FrameKey
    event: Event
    reason: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    megapixels: float = 0.0
    worker: str = ""


class EnginePlugin(WorkerPlugin):
    """Loads a run's engines once per worker process; tasks find them by the plugin's name.

    Parameters
    ----------
    name
        Unique per run, so runs sharing a cluster keep their own engines.
    engines
        Channel -> engine folder; a folder named by several channels is loaded once.
    threads
        CPU threads of each engine; None shares the worker's physical cores between the
        tasks it runs at once.
    """

    def __init__(self, name: str, engines: Mapping[str, Path], threads: int | None) -> None:
        self.name = name
        self.engine_folders = dict(engines)
        self.threads = threads
        self._engines: dict[Path, Engine] = {}

    def setup(self, worker: Worker) -> None:
        """Load the engines (hash-verified, as every engine is)."""
        threads = self.threads or max(1, cpu_threads() // max(1, worker.state.nthreads))
        for folder in dict.fromkeys(self.engine_folders.values()):
            self._engines[folder] = load_engine(folder, threads=threads)
        log.info(
            "worker %s: %d engines, %d threads each", worker.address, len(self._engines), threads
        )

    def teardown(self, worker: Worker) -> None:
        """Close the engines."""
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()

    def enhancer(
        self, channel: str, settings: BatchSettings, fixed: IntensityRange | None
    ) -> Enhancer:
        """Return a new enhancer for ``channel``: per-frame, or with one frame's stream range."""
        engine = self._engines[self.engine_folders[channel]]
        if fixed is None:
            return engine.enhancer(mode="per-frame", output_dtype=settings.output_dtype)
        return engine.enhancer(
            mode="fixed", fixed_range=(fixed.low, fixed.high), output_dtype=settings.output_dtype
        )


def _plugin(job: BatchJob) -> tuple[EnginePlugin, str]:
    worker = get_worker()
    plugin = worker.plugins.get(job.plugin)
    if not isinstance(plugin, EnginePlugin):
        raise RuntimeError(
            f"worker {worker.address} has no tcan-live engines (plugin {job.plugin!r} missing; "
            "its set-up failed or the worker cannot import tcan_live)"
        )
    return plugin, f"{worker.address} pid {os.getpid()}"


def describe(refs: Sequence[FrameRef], job: BatchJob) -> AcquisitionLayout:
    """Return the output layout, from the first of ``refs`` passing every check (a task).

    Raises
    ------
    FrameRejected
        No frame among ``refs`` passes (the reasons of the first few).
    """
    plugin, _ = _plugin(job)
    mapper = job.settings.mapper()
    enhancers = {c.name: plugin.enhancer(c.name, job.settings, None) for c in job.channels}
    reasons = []
    for ref in refs:
        try:
            frame = read_frame(job.dataset, ref, mapper)
            enhancers[ref.key.channel].check(frame.image, frame.pixel_size_nm)
        except FrameRejected as error:
            reasons.append(f"{ref.source} {ref.key.describe()}: {error}")
            continue
        return layout_from_frame(frame, job.channels, enhancers, job.time_increment_s)
    raise FrameRejected("; ".join(reasons[:3]) or "no frames to describe the output with")


def measure(
    refs: Sequence[FrameRef], job: BatchJob
) -> list[tuple[FrameKey, IntensityRange | FrameOutcome]]:
    """Each frame's own intensity range, or its outcome when it cannot be used (a task).

    Reads and checks the frames exactly as :func:`enhance` does, without inference.
    """
    plugin, where = _plugin(job)
    mapper = job.settings.mapper()
    results: list[tuple[FrameKey, IntensityRange | FrameOutcome]] = []
    for ref in refs:
        enhancer = plugin.enhancer(ref.key.channel, job.settings, None)
        try:
            frame = read_frame(job.dataset, ref, mapper)
            enhancer.check(frame.image, frame.pixel_size_nm)
            results.append((ref.key, enhancer.measure(frame.image)))
        except FrameRejected as error:
            results.append((ref.key, FrameOutcome(ref.key, "skip", str(error), worker=where)))
        except Exception as error:  # one frame's failure must not end the rest
            results.append((ref.key, _failed(ref.key, error, where)))
    return results


def enhance(
    refs: Sequence[FrameRef],
    job: BatchJob,
    ranges: Sequence[IntensityRange | None],
) -> list[FrameOutcome]:
    """Read, check, enhance and write the frames ``refs`` (a task); one outcome per frame.

    ``ranges`` gives each frame its stream's intensity range (None: per-frame normalisation,
    under which the frames of one channel share tile batches). A frame that fails does not stop
    the others: its outcome says why.
    """
    plugin, where = _plugin(job)
    mapper = job.settings.mapper()
    outcomes: list[FrameOutcome] = []
    groups: dict[tuple[str, int], tuple[Enhancer, list[tuple[Frame, float]]]] = {}
    for number, (ref, fixed) in enumerate(zip(refs, ranges, strict=True)):
        # Per-frame normalisation needs no state: one enhancer serves a channel's frames.
        group = (ref.key.channel, -1 if fixed is None else number)
        if group not in groups:
            groups[group] = (plugin.enhancer(ref.key.channel, job.settings, fixed), [])
        enhancer, members = groups[group]
        try:
            frame = read_frame(job.dataset, ref, mapper)
            members.append((frame, enhancer.check(frame.image, frame.pixel_size_nm)))
        except FrameRejected as error:
            outcomes.append(FrameOutcome(ref.key, "skip", str(error), worker=where))
        except Exception as error:  # one frame's failure must not end the rest
            outcomes.append(_failed(ref.key, error, where))
    for enhancer, members in groups.values():
        if members:
            outcomes.extend(_enhance_group(enhancer, members, job, where))
    return outcomes


def _enhance_group(
    enhancer: Enhancer, members: list[tuple[Frame, float]], job: BatchJob, where: str
) -> list[FrameOutcome]:
    started = time.perf_counter()
    try:
        results = enhancer.enhance_many([(frame.image, size) for frame, size in members])
    except Exception as error:  # find the frame that fails, enhance the others
        if len(members) == 1:
            frame = members[0][0]
            return [_failed(frame.key, error, where, {"origin": frame.origin})]
        return [o for member in members for o in _enhance_group(enhancer, [member], job, where)]
    seconds = (time.perf_counter() - started) / len(members)
    return [
        _store(frame, result, seconds, job, where)
        for (frame, _), result in zip(members, results, strict=True)
    ]


def _store(
    frame: Frame, result: EnhanceResult, seconds: float, job: BatchJob, where: str
) -> FrameOutcome:
    fields: dict[str, Any] = {"origin": frame.origin, "pixel_size_nm": frame.pixel_size_nm}
    try:
        write_sr_chunk(job.settings.output, frame.key, result.image, fsync=job.settings.fsync)
    except ValueError as error:  # no place for it in the store (e.g. another shape)
        return FrameOutcome(frame.key, "skip", str(error), fields, worker=where)
    except Exception as error:  # disk full, I/O: a rerun tries again
        return _failed(frame.key, error, where, fields)
    fields["qc"] = {
        "input_mean": float(np.mean(frame.image)),
        "output_mean": float(np.mean(result.image)),
        "enhance_s": round(seconds, 4),
    }
    return FrameOutcome(
        frame.key, "sr", fields=fields, megapixels=frame.image.size / 1e6, worker=where
    )


def _failed(
    key: FrameKey, error: BaseException, where: str, fields: Mapping[str, Any] | None = None
) -> FrameOutcome:
    # The reason goes to the journal and the summary; the traceback only to an info log.
    log.info("%s failed on %s", key.describe(), where, exc_info=error)
    return FrameOutcome(key, "failed", failure_reason(error), dict(fields or {}), worker=where)


def failure_reason(error: BaseException) -> str:
    """One line saying why an attempt failed (the journal's and the summary's ``reason``)."""
    message = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, IncompleteFileError):
        return f"not completely written ({message}): run again once the file is complete"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
