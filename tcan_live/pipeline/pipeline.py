"""The pipeline: O(1) intake on the acquisition thread, durable raw backlog, inference worker.

Threads and their jobs:

* the caller's (acquisition) thread only calls :meth:`Pipeline.submit`, which enqueues;
* the *ingest* thread writes every raw frame durably to the backlog store first, then puts its
  key into the in-memory work window (with the image, while fewer than
  ``max_frames_in_memory`` images are held; beyond that only the key, and the worker reads
  the frame back from the store) — memory stays bounded however far inference falls behind;
* the *worker* thread takes frames in acquisition order, batches up to ``batch_frames``
  frames of one channel through that channel's enhancer (their tiles share batches), and
  hands results to the sinks (which mark them complete) and the preview. In ``newest-first``
  order (``limits.order``) it first takes, alone, the newest frame of a channel and image
  newer than the one last shown, so the preview stays live when the engine is slower than the
  camera; the backlog is enhanced in order in between, its stale previews not sent.

A restart on the same output first re-queues the store's pending frames, so nothing acquired
is lost when the daemon is killed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from queue import SimpleQueue
from typing import Any

import numpy as np
from psygnal import Signal

from tcan_live.core.acquisition import (
    AcquisitionLayout,
    ChannelInfo,
    EnhanceResult,
    Frame,
    FrameKey,
    ImageKey,
)
from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.messages import one_line
from tcan_live.pipeline.layout import layout_from_frame
from tcan_live.pipeline.limits import PipelineLimits
from tcan_live.pipeline.protocols import BatchEnhancer, PreviewSink, RawBacklog
from tcan_live.pipeline.stats import PipelineStats
from tcan_live.sinks.base import FrameSink
from tcan_live.sinks.rejected import RejectedFrames

log = logging.getLogger(__name__)

QcEstimator = Callable[[np.ndarray, float], float]


@dataclass
class _Work:
    key: FrameKey
    frame: Frame | None  # None: held only in the backlog store
    submitted: float
    arrival: int = -1  # order of arrival in this run; frames resumed from the store: -1


class PipelineEvents:
    """psygnal signals emitted by the pipeline's threads (never the acquisition thread)."""

    frame_stored = Signal(object)
    frame_enhanced = Signal(object, object, dict)
    frame_skipped = Signal(object, str)
    warning = Signal(str)
    error = Signal(str)


_STOP = object()


class Pipeline:
    """Streams frames from sources through per-channel enhancers into sinks.

    Parameters
    ----------
    channels
        The acquisition's channels in order, with display colours.
    enhancers
        One enhancer per channel name.
    backlog
        Durable raw store and backlog (usually also one of ``sinks``).
    sinks
        Receive each result; the store among them marks the frame complete.
    rejected
        Where frames the store cannot hold (unknown channel, other shape or dtype) are kept.
    previews
        Optional live preview publisher (must not block).
    qc_resolution
        Optional resolution estimator (image, pixel size nm) -> nm, run every
        ``limits.qc_every`` frames per channel.
    time_increment_s
        Interval between time points, for the output's metadata.
    z_step_nm
        Distance between z slices every frame is given (overriding what its source reports).
    """

    def __init__(
        self,
        channels: Sequence[ChannelInfo],
        enhancers: Mapping[str, BatchEnhancer],
        backlog: RawBacklog,
        sinks: Sequence[FrameSink],
        *,
        rejected: RejectedFrames,
        previews: PreviewSink | None = None,
        limits: PipelineLimits | None = None,
        qc_resolution: QcEstimator | None = None,
        time_increment_s: float | None = None,
        z_step_nm: float | None = None,
    ) -> None:
        missing = [channel.name for channel in channels if channel.name not in enhancers]
        if missing:
            raise ValueError(f"channels {missing} have no engine")
        self.channels = tuple(channels)
        self.enhancers = dict(enhancers)
        self.rejected = rejected
        self.time_increment_s = time_increment_s
        self.z_step_nm = z_step_nm
        self.layout: AcquisitionLayout | None = None
        self.backlog = backlog
        self.sinks = list(sinks)
        self.previews = previews
        self.limits = limits or PipelineLimits()
        self.qc_resolution = qc_resolution
        self.stats = PipelineStats()
        self.events = PipelineEvents()
        self._inbox: SimpleQueue[Any] = SimpleQueue()
        self._window: deque[_Work] = deque()
        self._held_in_memory = 0
        self._condition = threading.Condition()
        self._busy = False
        self._ingested = 0
        self._stopping = False
        self._drain = True
        self._frames_per_channel: dict[str, int] = {}
        self._arrivals = 0
        self._shown: dict[tuple[str, ImageKey], int] = {}  # arrival of the last preview
        self._last_jump = -math.inf
        self._ingest_thread = threading.Thread(
            target=self._ingest_loop, name="tcan-ingest", daemon=True
        )
        self._worker_thread = threading.Thread(
            target=self._work_loop, name="tcan-worker", daemon=True
        )

    # -- acquisition side ----------------------------------------------------------------
    def submit(self, frame: Frame) -> None:
        """Hand over one frame; O(1), never blocks, safe on the acquisition thread."""
        self._inbox.put((frame, time.monotonic()))

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, layout: AcquisitionLayout | None = None) -> None:
        """Start the ingest and worker threads.

        Parameters
        ----------
        layout
            The layout of an existing output store (a restart): the sinks are set up with it
            at once and the store's unfinished frames are queued before any new frame. Without
            it the layout is derived from the first frame.
        """
        resumed: list[FrameKey] = []
        if layout is not None:
            self._setup(layout)
            resumed = self.backlog.pending()
        now = time.monotonic()
        with self._condition:
            self._window.extend(_Work(key, None, now) for key in resumed)
        self.stats.add(resumed=len(resumed))
        self.stats.set(backlog=len(resumed))
        if resumed:
            log.info("resuming %d unfinished frames from the output store", len(resumed))
        self._ingest_thread.start()
        self._worker_thread.start()

    def stop(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop after storing every submitted frame; with ``drain`` also enhance the backlog.

        Without ``drain`` the worker stops after its current batch and the remaining frames
        stay pending in the store for the next run.
        """
        self._inbox.put(_STOP)
        self._ingest_thread.join(timeout)
        with self._condition:
            self._stopping = True
            self._drain = drain
            self._condition.notify_all()
        self._worker_thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Block until everything submitted so far is enhanced or skipped (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                settled = self._inbox.empty() and self._ingested == self.stats.received
                if settled and not self._window and not self._busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.5))

    def _setup(self, layout: AcquisitionLayout) -> None:
        for sink in self.sinks:
            sink.setup(layout)
        self.layout = layout

    # -- ingest thread -----------------------------------------------------------------------
    def _ingest_loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            frame, submitted = item
            self.stats.add(received=1)
            try:
                self._ingest(frame, submitted)
            finally:
                with self._condition:
                    self._ingested += 1
                    self._condition.notify_all()

    def _ingest(self, frame: Frame, submitted: float) -> None:
        if frame.problem is not None:  # failed the frame check at its source: keep it aside
            self._reject(frame, f"{frame.origin} {frame.key.describe()}: {frame.problem}")
            return
        if self.z_step_nm is not None and frame.z_step_nm != self.z_step_nm:
            frame = replace(frame, z_step_nm=self.z_step_nm)  # the configured step wins
        try:
            if self.layout is None:
                self._setup(
                    layout_from_frame(frame, self.channels, self.enhancers, self.time_increment_s)
                )
            is_new = self.backlog.store_raw(frame)
        except OSError as error:
            # Not stored (disk full): keep it in memory so it is still enhanced if possible.
            self._report(f"{frame.key.describe()}: raw not stored: {error}")
            keep: Frame | None = frame
        except ValueError as error:  # includes FrameRejected: the store cannot hold this frame
            self._reject(frame, str(error))
            return
        else:
            if not is_new:
                self._duplicate(frame)
                return
            self.stats.add(stored=1)
            self.events.frame_stored.emit(frame.key)
            keep = frame if self._held_in_memory < self.limits.max_frames_in_memory else None
            with self._condition:
                if keep is not None:
                    self._held_in_memory += 1
                self._window.append(_Work(frame.key, keep, submitted, self._arrivals))
                self._arrivals += 1
                self.stats.set(in_memory=self._held_in_memory, backlog=len(self._window))
                self._condition.notify_all()

    # -- worker thread ---------------------------------------------------------------------
    def _next_batch(self) -> list[_Work] | None:
        with self._condition:
            while not self._window:
                if self._stopping:
                    return None
                self._condition.wait()
            if self._stopping and not self._drain:
                return None
            live = self._live_frame()
            if live is not None:
                self._window.remove(live)
                self._busy = True
                return [live]
            channel = self._window[0].key.channel
            batch: list[_Work] = []
            for work in list(self._window)[: self.limits.batch_frames * 4]:
                if work.key.channel == channel and len(batch) < self.limits.batch_frames:
                    batch.append(work)
            for work in batch:
                self._window.remove(work)
            self._busy = True
            return batch

    def _live_frame(self) -> _Work | None:
        """In newest-first order, the newest frame newer than its stream's last preview."""
        if self.limits.order != "newest-first" or self.previews is None:
            return None
        now = time.monotonic()
        if now - self._last_jump < self.limits.preview_interval_s:
            return None
        for work in reversed(self._window):
            if work.arrival > self._shown.get((work.key.channel, work.key.image), -1):
                self._last_jump = now
                return work
        return None

    def _work_loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._process(batch)
            except Exception as error:  # the worker outlives anything one batch can do
                log.exception("enhancement batch failed")
                self._report(one_line(f"enhancement failed ({type(error).__name__}: {error})"))
            finally:
                with self._condition:
                    released = sum(1 for work in batch if work.frame is not None)
                    self._held_in_memory -= released
                    self._busy = False
                    self.stats.set(in_memory=self._held_in_memory, backlog=len(self._window))
                    self._condition.notify_all()

    def _process(self, batch: list[_Work]) -> None:
        channel = batch[0].key.channel
        frames: list[tuple[_Work, Frame]] = []
        for work in batch:
            try:
                frame = work.frame or self.backlog.load_raw(work.key)
            except (OSError, KeyError, ValueError) as error:
                self._report(f"{work.key.describe()}: raw not readable: {error}")
                continue
            frames.append((work, frame))
        enhancer = self.enhancers[channel]  # the store holds only configured channels
        good: list[tuple[_Work, Frame, float]] = []
        for work, frame in frames:
            try:
                good.append((work, frame, enhancer.check(frame.image, frame.pixel_size_nm)))
            except FrameRejected as error:
                self._skip(frame, str(error))
        if not good:
            return
        self._enhance(good, enhancer)

    def _enhance(self, good: list[tuple[_Work, Frame, float]], enhancer: BatchEnhancer) -> None:
        """Enhance a batch; if it fails, each frame alone, so only the culprit is skipped."""
        try:
            results = enhancer.enhance_many([(frame.image, size) for _, frame, size in good])
        except Exception as error:
            if len(good) > 1:
                for one in good:
                    self._enhance([one], enhancer)
                return
            _, frame, _ = good[0]
            why = one_line(f"engine failed ({type(error).__name__}: {error})")
            self._skip(frame, why, error=True)
            return
        for (work, frame, _), result in zip(good, results, strict=True):
            self._deliver(work, frame, result)

    def _qc(self, frame: Frame, result: EnhanceResult) -> dict[str, Any]:
        qc: dict[str, Any] = {
            "input_mean": float(np.mean(frame.image)),
            "output_mean": float(np.mean(result.image)),
        }
        count = self._frames_per_channel.get(frame.channel, 0)
        self._frames_per_channel[frame.channel] = count + 1
        every = self.limits.qc_every
        if self.qc_resolution is not None and every > 0 and count % every == 0:
            qc["resolution_nm"] = self.qc_resolution(result.image, result.pixel_size_nm)
        if result.consistency is not None:
            qc.update(result.consistency.summary())
        if result.warnings:
            qc["warnings"] = list(result.warnings)
        return qc

    def _report_findings(self, frame: Frame, result: EnhanceResult) -> None:
        """Log the input guards' warnings and a flagged result, naming the frame's file."""
        where = f"{frame.origin} {frame.key.describe()}"
        for warning in result.warnings:
            message = f"{where}: {warning}"
            log.warning("%s", message)
            self.stats.add(warnings=1)
            self.events.warning.emit(message)
        if result.consistency is not None and result.consistency.flagged:
            self.stats.add(flagged=1)
            log.warning("%s: flagged: %s", where, result.consistency.flag)

    def _deliver(self, work: _Work, frame: Frame, result: EnhanceResult) -> None:
        self._report_findings(frame, result)
        qc = self._qc(frame, result)
        latency = time.monotonic() - work.submitted
        qc["latency_ms"] = latency * 1e3
        try:
            for sink in self.sinks:
                sink.append(frame, result, qc)
        except OSError as error:  # e.g. disk full: stays pending, the next run completes it
            self._report(f"{frame.key.describe()}: result not written: {error}")
            return
        except ValueError as error:  # the store cannot hold this result, now or ever
            self._skip(frame, f"result not written: {error}", error=True)
            return
        self.stats.frame_done(latency, frame.image.size / 1e6)
        self.events.frame_enhanced.emit(frame, result, qc)
        if self.previews is not None:
            stream = (frame.channel, frame.key.image)
            if self.limits.order == "newest-first" and work.arrival < self._shown.get(stream, -1):
                return  # older than what the preview already shows: stored, not shown
            self._shown[stream] = max(work.arrival, self._shown.get(stream, -1))
            self.stats.preview_shown(time.monotonic() - work.submitted)
            self.previews.publish(frame, result, qc)

    def _skip(self, frame: Frame, reason: str, *, error: bool = False) -> None:
        """Record in every sink why a stored frame cannot be enhanced.

        ``error``: the cause is a failure (an engine or a store that failed on it), counted
        with the errors, not only a frame outside what the engine takes.
        """
        message = f"{frame.origin} {frame.key.describe()}: {reason}"
        if error:
            self.stats.add(errors=1)
            self.events.error.emit(message)
        log.error("%s", message)
        try:
            for sink in self.sinks:
                sink.skip(frame, reason)
        except (OSError, ValueError) as error:
            self._report(f"{frame.key.describe()}: skip not recorded: {error}")
        self.stats.add(skipped=1)
        self.events.frame_skipped.emit(frame, reason)

    def _duplicate(self, frame: Frame) -> None:
        """Handle a frame whose key is stored: ignored if it is the same frame, else kept."""
        try:
            stored = self.backlog.load_raw(frame.key)
        except (KeyError, OSError, ValueError):
            same = True  # its raw is no longer kept (include_raw off): nothing to compare
        else:
            same = np.array_equal(stored.image, frame.image)
        if same:
            log.warning("%s: duplicate frame ignored (already stored)", frame.key.describe())
            self.stats.add(duplicates=1)
            return
        self._reject(
            frame,
            f"{frame.origin} {frame.key.describe()}: another frame with these indices is stored "
            "already (a new acquisition reusing them?): kept aside",
        )

    def _reject(self, frame: Frame, reason: str) -> None:
        """Keep a frame the store cannot hold beside the store instead of losing it."""
        try:
            where = self.rejected.keep(frame, reason)
        except (OSError, ValueError) as error:
            self._report(f"{frame.key.describe()}: {reason}; not kept: {error}")
            return
        log.error("%s (kept as %s)", reason, where)
        self.stats.add(skipped=1, rejected=1)
        self.events.frame_skipped.emit(frame, reason)

    def _report(self, message: str) -> None:
        log.error("%s", message)
        self.stats.add(errors=1)
        self.events.error.emit(message)
