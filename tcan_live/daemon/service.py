"""The acquisition daemon: source, engines, OME-Zarr store and previews in one pipeline.

A configured source, per-channel engines, the store and the preview publisher are wired into
one :class:`~tcan_live.pipeline.pipeline.Pipeline`.

Stopping (Ctrl-C, SIGTERM, :meth:`Daemon.stop`): the source stops first, then every frame it
delivered is stored raw in the output; by default enhancement then stops after the batch under
way and the rest stays pending in the store, where the next run on the same output resumes it
(``drain=True`` enhances everything before returning instead).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tcan_live.core.acquisition import ChannelInfo, EnhanceResult, Frame
from tcan_live.daemon.config import DaemonConfig, channel_color
from tcan_live.engine.load import load_engine
from tcan_live.engine.loaded_engine import Engine
from tcan_live.metrics import decorrelation_resolution
from tcan_live.pipeline.pipeline import Pipeline
from tcan_live.pipeline.preview_feed import PreviewFeed
from tcan_live.pipeline.progress import AcquisitionProgress
from tcan_live.pipeline.stats import StatsSnapshot
from tcan_live.preview.publisher import PreviewPublisher
from tcan_live.sinks.omezarr import OmeZarrSink
from tcan_live.sinks.rejected import RejectedFrames
from tcan_live.sinks.store_layout import stored_layout
from tcan_live.sources.core_signals import connect_on_emitting_thread
from tcan_live.sources.kind import SourceContext, SourceKind
from tcan_live.sources.protocol import FrameSource, OnePassSource
from tcan_live.sources.pycromanager_hook import ImageProcessFn, PycromanagerSource
from tcan_live.sources.registry import make_source, source_kind

if TYPE_CHECKING:
    from pymmcore_plus import CMMCorePlus

log = logging.getLogger(__name__)


class DaemonError(ValueError):
    """The daemon cannot start with this configuration; the message is one line saying why."""


class Daemon:
    """Runs one acquisition's frames from the configured source into the output store.

    Parameters
    ----------
    config
        The validated configuration.
    core
        The pymmcore-plus core whose MDA runs feed a ``pymmcore-plus`` source.

    Examples
    --------
    >>> daemon = Daemon(load_config("config/micromanager-gui.toml"))  # doctest: +SKIP
    >>> daemon.start()  # doctest: +SKIP
    >>> with Acquisition(folder, "run", image_process_fn=daemon.image_process_fn) as acq:
    ...     acq.acquire(events)  # doctest: +SKIP
    >>> daemon.stop(drain=True)  # doctest: +SKIP
    """

    def __init__(self, config: DaemonConfig, *, core: CMMCorePlus | None = None) -> None:
        self.config = config
        self._core = core
        self.output = Path(config.output.path)
        self.errors: deque[str] = deque(maxlen=5)  # the latest, for the dashboard
        self.warnings: deque[str] = deque(maxlen=5)
        self.last_qc: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._running = False  # the pipeline's threads are started
        self.engines = _load_engines(config)
        try:
            self.channels = tuple(
                ChannelInfo(
                    name,
                    channel_color(name, channel, index),
                    engine=self.engines[channel.engine].identity,
                )
                for index, (name, channel) in enumerate(config.channels.items())
            )
            enhancers = {
                name: self.engines[channel.engine].enhancer(
                    mode=channel.normalization,
                    fixed_range=channel.fixed_range,
                    running_frames=channel.running_frames,
                    output_dtype=channel.output_dtype,
                    confidence=config.confidence,
                )
                for name, channel in config.channels.items()
            }
            self.store = OmeZarrSink(config.output)
            self.publisher = PreviewPublisher(config.preview) if config.preview.enabled else None
        except Exception:
            self._close_engines()
            raise
        previews = (
            PreviewFeed(self.publisher, self.channels, z_projection=config.preview.z_projection)
            if self.publisher
            else None
        )
        self.pipeline = Pipeline(
            self.channels,
            enhancers,
            self.store,
            [self.store],
            rejected=RejectedFrames(self.store.rejected_dir()),
            previews=previews,
            limits=config.performance,
            qc_resolution=decorrelation_resolution,
            time_increment_s=config.output.time_increment_s,
            z_step_nm=config.output.z_step_nm,
        )
        self.pipeline.events.frame_enhanced.connect(self._on_enhanced)
        self.pipeline.events.error.connect(self._remember_error)
        self.pipeline.events.warning.connect(self._remember_warning)
        self.progress = AcquisitionProgress()
        self.pipeline.events.frame_stored.connect(self.progress.record)
        if core is not None:  # an MDA announces its plan: the dashboard shows n of N per axis
            connect_on_emitting_thread(core.mda.events.sequenceStarted, self._on_sequence_started)
        self.source: FrameSource | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> FrameSource:
        """Start the pipeline (resuming the store's backlog) and build the source, unstarted.

        Raises
        ------
        DaemonError
            The output store holds another acquisition's channels.
        LayoutMismatchError
            The output store was not written by tcan-live.
        """
        if self.source is not None:
            raise RuntimeError("the daemon is already started")
        self.store.lock()  # before looking at the store: one daemon per output
        layout = stored_layout(self.output)
        if layout is not None:
            names = [channel.name for channel in layout.channels]
            wanted = [channel.name for channel in self.channels]
            if names != wanted:
                raise DaemonError(
                    f"{self.output} holds another acquisition (channels {names}, the config "
                    f"has {wanted}): choose another output path"
                )
            for stored, configured in zip(layout.channels, self.channels, strict=True):
                if stored.engine and stored.engine != configured.engine:
                    raise DaemonError(
                        f"channels.{stored.name}.engine: {self.output} holds {stored.name} "
                        f"frames made by {stored.engine}, not by {configured.engine}: use that "
                        "engine to continue this store, or choose another output path"
                    )
        self.pipeline.start(layout)
        self._running = True
        # Frames already in the store (done or pending) are not taken again from the source.
        held = self.store.resume_state() if layout else None
        kept_aside = self.pipeline.rejected.origins()  # rejected: kept once, not again
        context = SourceContext.of(
            core=self._core,
            on_error=self._source_error,
            skip_keys=held.keys if held else (),
            skip_origins=(held.origins if held else frozenset()) | kept_aside,
            exclude=(self.output,),
            first_run=max(held.runs, default=-1) + 1 if held else 0,
        )
        self.source = make_source(self.config.source, context)
        return self.source

    @property
    def source_kind(self) -> SourceKind[Any]:
        """The kind of the configured source (what it can do: in-process, finite, one-pass)."""
        return source_kind(self.config.source)

    def start(self) -> None:
        """Start the pipeline and the source: frames acquired from now on are processed."""
        self.open().start(self.pipeline.submit)

    def run_once(self) -> int:
        """One-pass source: take every frame there now, enhance all, stop; return the count."""
        kind = self.source_kind
        if not kind.one_pass:
            raise DaemonError(f"source.kind = {kind.name!r} has no one-pass mode")
        source = cast(OnePassSource, self.open())
        try:
            taken = source.run_once(self.pipeline.submit)
        except FileNotFoundError as error:
            raise DaemonError(str(error)) from None
        finally:
            self.stop(drain=True)
        return taken

    @property
    def finished(self) -> bool:
        """Whether a finite source has delivered everything and all of it is enhanced."""
        source = self.source
        return source is not None and source.finished and self.pipeline.wait_idle(timeout=0)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every frame received so far is enhanced or skipped (False on timeout)."""
        return self.pipeline.wait_idle(timeout)

    def stop(self, drain: bool = False) -> StatsSnapshot:
        """Stop the source, store every received frame, then stop (``drain``: finish all).

        Idempotent; returns the final counters.
        """
        with self._lock:
            if not self._stopped:
                self._stopped = True
                try:
                    if self.source is not None:
                        self.source.stop()
                    if self._running:
                        self.pipeline.stop(drain=drain)
                finally:
                    if self._core is not None:
                        self._core.mda.events.sequenceStarted.disconnect(self._on_sequence_started)
                    self.store.close()
                    if self.publisher is not None:
                        self.publisher.close()
                    self._close_engines()
        return self.stats()

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------

    def stats(self) -> StatsSnapshot:
        """Return the pipeline's counters now."""
        return self.pipeline.stats.snapshot()

    @property
    def image_process_fn(self) -> ImageProcessFn:
        """The hook for pycromanager's ``Acquisition(image_process_fn=...)`` (after start)."""
        if not isinstance(self.source, PycromanagerSource):
            raise DaemonError(
                "image_process_fn needs a started daemon with source.kind = 'pycromanager'"
            )
        return self.source.image_process_fn

    def new_acquisition(self) -> None:
        """Mark the start of another pycromanager acquisition through the same hook.

        Its frames become a new run (new images in the store) instead of duplicates of the
        previous acquisition's indices.
        """
        if not isinstance(self.source, PycromanagerSource):
            raise DaemonError(
                "new_acquisition needs a started daemon with source.kind = 'pycromanager' "
                "(pymmcore-plus MDAs start a new run by themselves)"
            )
        self.source.new_acquisition()

    # -- callbacks (pipeline and source threads) -----------------------------------------------

    def _on_enhanced(self, frame: Frame, result: EnhanceResult, qc: Mapping[str, Any]) -> None:
        latest = self.last_qc.setdefault(frame.channel, {})
        latest.update({"t": frame.t, **qc})

    def _on_sequence_started(self, sequence: Any, *_: Any) -> None:
        sizes = getattr(sequence, "sizes", None)
        if isinstance(sizes, Mapping):
            self.progress.plan(sizes)

    def _remember_error(self, message: str) -> None:
        self.errors.append(message)

    def _remember_warning(self, message: str) -> None:
        self.warnings.append(message)

    def _source_error(self, message: str) -> None:
        log.error("%s", message)
        self.pipeline.stats.add(errors=1)
        self._remember_error(message)

    def _close_engines(self) -> None:
        for engine in self.engines.values():
            engine.close()


def _load_engines(config: DaemonConfig) -> dict[Path, Engine]:
    """One engine per distinct folder, shared by the channels that name it."""
    from tcan_live.engine.manifest import EngineError

    engines: dict[Path, Engine] = {}
    for name, channel in config.channels.items():
        if channel.engine in engines:
            continue
        try:
            engines[channel.engine] = load_engine(channel.engine)
        except (EngineError, OSError) as error:
            for engine in engines.values():
                engine.close()
            raise DaemonError(f"channels.{name}.engine: {error}") from None
    return engines


def run_until(
    daemon: Daemon,
    stop: threading.Event,
    *,
    drain: bool = False,
    on_tick: Callable[[], None] | None = None,
    tick_s: float = 0.25,
) -> StatsSnapshot:
    """Start ``daemon`` and run until ``stop`` is set or a finite source is done; then stop.

    ``on_tick`` (e.g. a dashboard refresh) is called every ``tick_s`` seconds meanwhile. A
    finished replay source is always drained.
    """
    daemon.start()
    try:
        while not stop.wait(tick_s):
            if on_tick is not None:
                on_tick()
            if daemon.finished:
                drain = True
                break
    finally:
        snapshot = daemon.stop(drain=drain)
    return snapshot
