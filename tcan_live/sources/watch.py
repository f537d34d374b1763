"""Watch a folder for frames written by an acquisition (watchdog).

Handles three layouts, recursively under the root:

* single-frame TIFF / OME-TIFF files: taken once settled (see :mod:`.settle`) and completely
  parseable;
* Micro-Manager MMStack files (``*_MMStack*.tif``), open while acquiring: each image is taken
  once completely written (see :mod:`.files.mmstack`);
* NDTiff datasets (``NDTiff.index`` + ``*_NDTiffStack*.tif``), followed through their
  append-only index (see :mod:`.files.ndtiff_dataset`).

File-system events are a hint, not the record: the folder is also rescanned every
``rescan_interval_s``, so a missed event (an inotify queue overflow, a watch limit reached, an
event thread that died) delays a frame but never loses it.

Hidden and temporary files are ignored; paths whose real location is outside the root (a
symlink pointing out) are refused. Every frame is delivered at most once: files are remembered
once taken, and a (t, channel) that was already delivered, or is listed in ``skip_keys`` (e.g.
frames already in the output store when resuming), is not delivered again. Each problem is
reported once as a one-line message naming the file and what was expected, through
``on_error(message)``, and the watcher keeps running.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tcan_live.core.acquisition import Frame, FrameKey
from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.settings import ConfigPath
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.files.mapping import FileMappingSettings, FrameMapper
from tcan_live.sources.files.readers import (
    FileLayout,
    LiveReader,
    dataset_path,
    file_layout,
    open_live_reader,
)
from tcan_live.sources.files.single_tiff import read_tiff_planes, unwritten_tail
from tcan_live.sources.kind import SourceContext, SourceKind
from tcan_live.sources.protocol import ErrorCallback, FrameCallback
from tcan_live.sources.settle import SettleTracker, Verdict, held_open_for_writing

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", "~")


def is_ignored_name(name: str) -> bool:
    """Hidden files and the usual temporary-file names, which are never read."""
    lower = name.lower()
    return name.startswith((".", "~")) or lower.endswith(_TEMP_SUFFIXES)


def log_error(message: str) -> None:
    """Log the message (the default ``on_error``)."""
    log.error("%s", message)


class WatchSourceConfig(FileMappingSettings):
    """A folder written by an acquisition: per-frame TIFFs, MMStack files, NDTiff datasets."""

    kind: Literal["watch"]
    root: ConfigPath
    recursive: bool = True
    process_existing: bool = False
    polling: bool = False
    """Use the polling observer (network shares) instead of inotify."""
    poll_interval_s: float = Field(1.0, gt=0, le=3600)
    settle_s: float = Field(1.0, ge=0, le=3600)
    """A single-frame file must stay unchanged this long before it is read (no close event)."""
    give_up_after_s: float = Field(30.0, gt=0, le=86400)
    """An unchanged file still unreadable after this long is reported as corrupt."""
    rescan_interval_s: float = Field(10.0, gt=0, le=3600)
    """The folder is listed again this often, so a missed file-system event never loses a frame."""


class WatchFolderSource:
    """Delivers the frames written under ``root`` while it runs.

    Parameters
    ----------
    root
        The folder to watch.
    mapper
        Maps and checks frames (pattern, channels, pixel size).
    recursive
        Watch sub-folders too.
    process_existing
        Also take the frames already there when started.
    polling
        Use watchdog's polling observer (network shares) instead of the native one.
    poll_interval_s
        The polling observer's interval.
    settle_s
        How long a single-frame file must stay unchanged before it is tried (without a close
        event).
    give_up_after_s
        How long an unchanged but unreadable file is retried before it is reported.
    rescan_interval_s
        How often the whole folder is listed again, whatever the events said.
    skip_keys
        (t, channel) pairs that are already processed; never delivered. Frames numbered by
        arrival (no time index in the file or its name) continue after the highest of them.
    skip_origins
        Origins (file and position) of frames already stored by an earlier run; never
        delivered again. A restart recognises files by these, since arrival numbering can
        differ between runs.
    exclude
        Folders never read, whatever is written there (the daemon's own output, which may lie
        inside the watched folder: its rejected frames must not come back as new frames).
    on_error
        ``on_error(message)`` for every problem; logged when omitted.
    """

    def __init__(
        self,
        root: Path,
        mapper: FrameMapper,
        *,
        recursive: bool = True,
        process_existing: bool = False,
        polling: bool = False,
        poll_interval_s: float = 1.0,
        settle_s: float = 1.0,
        give_up_after_s: float = 30.0,
        rescan_interval_s: float = 10.0,
        skip_keys: Iterable[FrameKey] = (),
        skip_origins: Iterable[str] = (),
        exclude: Iterable[Path] = (),
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.root = Path(root)
        self._real_root = self.root.resolve()
        self._excluded = tuple(Path(folder).resolve() for folder in exclude)
        self._mapper = mapper
        self._recursive = recursive
        self._process_existing = process_existing
        self._polling = polling
        self._poll_interval_s = poll_interval_s
        self._settle = SettleTracker(settle_s, give_up_after_s)
        self._tick_s = max(min(settle_s, poll_interval_s if polling else settle_s) / 2, 0.05)
        self._on_error = on_error or log_error
        self._rescan_interval_s = rescan_interval_s
        self._next_rescan = 0.0
        self._preexisting: set[Path] = set()  # there at start, not to be taken unless touched
        self._skip_keys = set(skip_keys)
        self._skip_origins = set(skip_origins)
        mapper.continue_after(self._skip_keys)
        self._delivered: dict[FrameKey, str] = {}
        self._taken_files: set[Path] = set()
        # Files that failed, with the state they failed in: tried again once they change.
        self._failed: dict[Path, tuple[int, int, int, int]] = {}
        self._refused: set[Path] = set()
        self._live: dict[Path, LiveReader] = {}
        self._inbox: dict[Path, bool] = {}  # path -> closed by its writer
        self._moved_away: set[Path] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._emit: FrameCallback | None = None
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        self._passes = 0  # completed worker passes, for wait_for_pass
        self.incomplete_reads: dict[Path, int] = {}  # file -> reads that found it incomplete

    # -- FrameSource -------------------------------------------------------------------------

    def start(self, emit: FrameCallback) -> None:
        """Start watching; frames go to ``emit`` from the watcher's own thread."""
        if self._worker is not None:
            raise RuntimeError("WatchFolderSource is already started")
        if not self.root.is_dir():
            raise FileNotFoundError(f"watch root {self.root}: expected an existing folder")
        self._emit = emit
        self._stopping = False
        self._observer = self._make_observer()
        self._observer.start()
        if self._process_existing:
            self._submit(self._existing_files(), closed=False)
        else:
            self._preexisting = set(self._existing_files())
        self._next_rescan = time.monotonic() + self._rescan_interval_s
        self._worker = threading.Thread(target=self._run, name="tcan-watch", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop watching and join the threads; idempotent."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._emit = None

    @property
    def finished(self) -> bool:
        """Never: an acquisition may write more files at any time."""
        return False

    # -- one pass over what is there (``--once``) -----------------------------------------------

    def run_once(self, emit: FrameCallback) -> int:
        """Take every frame already under the root, as if all writers had finished.

        Returns the number of frames delivered. Files that are not complete are reported.
        """
        if not self.root.is_dir():
            raise FileNotFoundError(f"watch root {self.root}: expected an existing folder")
        self._emit = emit
        before = len(self._delivered)
        try:
            for path in self._existing_files():
                self._guarded(path, closed=True, final=True)
        finally:
            self._emit = None
        return len(self._delivered) - before

    @property
    def delivered(self) -> dict[FrameKey, str]:
        """(t, channel) -> origin of every frame delivered so far."""
        return dict(self._delivered)

    # -- threads --------------------------------------------------------------------------------

    def _make_observer(self) -> BaseObserver:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        source = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    return
                closed = event.event_type == "closed"
                if event.event_type in ("created", "modified", "closed"):
                    source._submit([Path(os.fsdecode(event.src_path))], closed)
                elif event.event_type == "moved":  # e.g. a temp file renamed into place
                    source._moved(Path(os.fsdecode(event.src_path)))
                    source._submit([Path(os.fsdecode(event.dest_path))], closed=True)

        observer = PollingObserver(timeout=self._poll_interval_s) if self._polling else Observer()
        observer.schedule(_Handler(), str(self.root), recursive=self._recursive)
        return observer

    def _submit(self, paths: Iterable[Path], closed: bool) -> None:
        with self._wake:
            for path in paths:
                self._inbox[path] = self._inbox.get(path, False) or closed
            self._wake.notify_all()

    def _moved(self, path: Path) -> None:
        with self._wake:
            self._moved_away.add(path)
            self._inbox.pop(path, None)

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._inbox and not self._stopping:
                    self._wake.wait(self._tick_s)
                if self._stopping:
                    return
                batch, self._inbox = self._inbox, {}
                moved_away, self._moved_away = self._moved_away, set()
            self._preexisting.difference_update(batch)  # written to since start: ours now
            if time.monotonic() >= self._next_rescan:
                for path in self._untaken_files():
                    batch.setdefault(path, False)
                self._next_rescan = time.monotonic() + self._rescan_interval_s
            for path in moved_away:  # renamed, not lost: its new name arrives as an event
                self._settle.forget(str(path))
            for path, closed in batch.items():
                self._guarded(path, closed)
            # Re-check what is pending without events: settling files, live datasets.
            for key in self._settle.pending():
                if Path(key) not in batch:
                    self._guarded(Path(key), False)
            for path in list(self._live):
                if path not in batch:
                    self._guarded(path, False)
            with self._wake:
                self._passes += 1
                self._wake.notify_all()

    def wait_for_pass(self, timeout: float) -> bool:
        """Wait until the watcher completes a full pass that began after this call.

        Lets callers (tests, ``--once``-like tools) know that everything written before the call
        has been looked at at least once. Returns False on timeout.
        """
        with self._wake:
            target = self._passes + 2  # the pass under way may have started before the call
            self._wake.notify_all()
            return self._wake.wait_for(
                lambda: self._passes >= target or self._stopping, timeout=timeout
            )

    def is_pending(self, path: Path) -> bool:
        """Whether a single-frame file is seen but not yet taken (still settling)."""
        return str(path) in self._settle

    def _guarded(self, path: Path, closed: bool, final: bool = False) -> None:
        try:
            self._process(path, closed, final)
        except Exception as exc:  # the watcher must survive anything a file can do
            log.debug("unexpected error while reading %s", path, exc_info=True)
            if path not in self._refused:  # once per file, not at every pass
                self._refused.add(path)
                self._report(path, f"{path}: unexpected error ({type(exc).__name__}: {exc})")

    # -- per file -------------------------------------------------------------------------------

    def _existing_files(self) -> list[Path]:
        found: list[Path] = []
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            if self._recursive:
                wanted = (d for d in dirs if not is_ignored_name(d))
                dirs[:] = sorted(d for d in wanted if not self._is_excluded(Path(folder) / d))
            else:
                dirs[:] = []
            found.extend(Path(folder) / name for name in sorted(files))
        return found

    def _is_excluded(self, path: Path) -> bool:
        if not self._excluded:
            return False
        try:
            real = path.resolve()
        except (OSError, RuntimeError):
            return False
        return any(real == folder or real.is_relative_to(folder) for folder in self._excluded)

    def _untaken_files(self) -> list[Path]:
        return [
            path
            for path in self._existing_files()
            if path not in self._taken_files and path not in self._preexisting
        ]

    def _process(self, path: Path, closed: bool, final: bool) -> None:
        if path in self._taken_files or self._is_excluded(path):
            return
        layout = self._layout(path)
        if layout is None:
            return
        if not self._inside_root(path):
            return
        target = path if layout == "single" else dataset_path(path, layout)
        state = self._file_state(target, final)
        if state is None:
            return
        if self._failed.get(target) == state:
            return  # failed before and unchanged since
        self._failed.pop(target, None)
        if layout == "single":
            self._process_single(path, closed, final)
        else:
            self._poll_live(target, layout, final)

    def _file_state(self, path: Path, final: bool) -> tuple[int, int, int, int] | None:
        """Return the file's (size, mtime, ctime, mode) if it is a readable regular file.

        Anything else is reported once: a FIFO or device would block the reader in
        ``open()``, and a link loop or a permission problem has no frame to give.
        """
        try:
            info = path.stat()
        except FileNotFoundError:
            if str(path) in self._settle or final:
                self._settle.forget(str(path))
                self._report(path, f"{path}: disappeared before it could be read")
            return None
        except OSError as error:  # ELOOP (a symbolic link loop), EACCES on a folder, ...
            self._refuse_once(path, f"cannot be read ({error.strerror}): ignored")
            return None
        if not stat.S_ISREG(info.st_mode):
            self._refuse_once(
                path, "not a regular file (a FIFO, socket or device): expected a TIFF; ignored"
            )
            return None
        return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode)

    def _refuse_once(self, path: Path, why: str) -> None:
        if path not in self._refused:
            self._refused.add(path)
            self._report(path, f"{path}: {why}")

    def _fail(self, path: Path, message: str) -> None:
        """Report ``message`` and remember the file's state: it is tried again once it changes."""
        state = self._file_state(path, final=False)
        if state is not None:
            self._failed[path] = state
        self._report(path, message)

    def _layout(self, path: Path) -> FileLayout | None:
        relative = path.relative_to(self.root) if path.is_relative_to(self.root) else path
        if any(is_ignored_name(part) for part in relative.parts):
            return None
        if not self._recursive and len(relative.parts) > 1:
            return None
        return None if path.is_dir() else file_layout(path)

    def _inside_root(self, path: Path) -> bool:
        try:
            real = path.resolve()
        except RuntimeError:  # Python < 3.13 raises it for a symbolic link loop
            self._refuse_once(path, "a symbolic link loop: ignored")
            return False
        except OSError:
            return True  # gone or unreadable: reported where it is read
        if real.is_relative_to(self._real_root):
            return True
        if path not in self._refused:
            self._refused.add(path)
            self._report(
                path,
                f"{path}: resolves to {real}, outside the watched root {self._real_root}; "
                "links out of the root are not followed",
            )
        return False

    def _process_single(self, path: Path, closed: bool, final: bool) -> None:
        key = str(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            if key in self._settle or final:
                self._settle.forget(key)
                self._report(path, f"{path}: disappeared before it could be read")
            return
        signature = (info.st_size, info.st_mtime_ns)
        verdict = (
            Verdict.TRY if final else self._settle.check(key, signature, time.monotonic(), closed)
        )
        if verdict is Verdict.WAIT:
            return
        if not closed and held_open_for_writing(path):
            # Settled by its time stamps, but its writer still has it open: not done yet.
            self._settle.restart(key, time.monotonic())
            return
        try:
            raws = read_tiff_planes(path)
        except FileNotFoundError:
            self._settle.forget(key)
            self._report(path, f"{path}: disappeared before it could be read")
            return
        except PermissionError as exc:
            self._settle.forget(key)
            self._fail(path, f"{path}: cannot be read ({exc.strerror}): expected a readable file")
            return
        except IncompleteFileError as exc:
            self.incomplete_reads[path] = self.incomplete_reads.get(path, 0) + 1
            if verdict is Verdict.GIVE_UP or final:
                self._settle.forget(key)
                self._fail(
                    path, f"{path}: truncated or corrupt TIFF, expected a complete image ({exc})"
                )
            return
        except FrameRejected as exc:
            self._settle.forget(key)
            self._fail(path, f"{path}: {exc}")
            return
        unwritten = unwritten_tail(raws[-1].image)
        if unwritten and verdict is Verdict.TRY and not (closed or final):
            # Looks pre-allocated and not yet filled: wait for its close event, or for it to
            # stay unchanged (and not held open) until give_up_after_s; then take it as it is.
            self.incomplete_reads[path] = self.incomplete_reads.get(path, 0) + 1
            return
        if unwritten:
            log.warning(
                "%s: its last %d pixels are zero while no other pixel is; taken as it is "
                "(its writer closed it, or it stayed unchanged with no writer)",
                path,
                unwritten,
            )
        self._settle.forget(key)
        self._taken_files.add(path)
        problems = [p for raw in raws if (p := self._deliver(path, raw)) is not None]
        if problems and len(problems) == len(raws):
            # Complete, but no usable frame in it: tried again if it is rewritten.
            self._taken_files.discard(path)
            self._fail(path, problems[0])
            problems = problems[1:]
        for problem in problems:  # a stack's other planes went on
            self._report(path, problem)

    def _poll_live(self, path: Path, layout: FileLayout, final: bool) -> None:
        if path in self._taken_files:
            return
        reader = self._live.get(path)
        if reader is None:
            reader = open_live_reader(path, layout)
            self._live[path] = reader
        try:
            results = reader.poll()
        except FileNotFoundError:
            del self._live[path]
            self._report(path, f"{path}: disappeared before it could be read")
            return
        except IncompleteFileError as exc:
            if final:
                self._report(path, f"{path}: incomplete, expected a finished dataset ({exc})")
            return
        except FrameRejected as exc:
            del self._live[path]
            self._taken_files.add(path)
            self._report(path, f"{path}: {exc}")
            return
        for result in results:
            problem = (
                f"{path}: {result}"
                if isinstance(result, FrameRejected)
                else self._deliver(path, result)
            )
            if problem is not None:
                self._report(path, problem)

    def _deliver(self, path: Path, raw: FileFrame) -> str | None:
        """Deliver one frame read from ``path``; return the problem (one line) if it is refused."""
        if self._mapper.origin(raw, path) in self._skip_origins:
            log.debug("%s%s: stored by an earlier run, skipped", path, raw.where)
            return None
        try:
            frame = self._mapper.to_frame(raw, path, self._relative(path))
        except FrameRejected as exc:
            return f"{path}{raw.where}: {exc}"
        if raw.timestamp is None and not raw.where:
            frame = _with_file_time(frame, path)
        if frame.key in self._skip_keys:
            log.debug("%s: %s already processed, skipped", path, frame.key.describe())
            return None
        earlier = self._delivered.get(frame.key)
        if earlier is not None:
            return (
                f"{path}{raw.where}: duplicate frame {frame.key.describe()}, already taken "
                f"from {earlier}"
            )
        self._delivered[frame.key] = frame.origin
        emit = self._emit
        if emit is not None:
            emit(frame)
        return None

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name

    def _report(self, path: Path, message: str) -> None:
        try:
            self._on_error(message)
        except Exception:
            log.exception("on_error callback failed for %s", path)


def _with_file_time(frame: Frame, path: Path) -> Frame:
    try:
        return dataclasses.replace(frame, timestamp=path.stat().st_mtime)
    except OSError:
        return frame


def _build(config: WatchSourceConfig, context: SourceContext) -> WatchFolderSource:
    return WatchFolderSource(
        config.root,
        config.mapper(),
        recursive=config.recursive,
        process_existing=config.process_existing,
        polling=config.polling,
        poll_interval_s=config.poll_interval_s,
        settle_s=config.settle_s,
        give_up_after_s=config.give_up_after_s,
        rescan_interval_s=config.rescan_interval_s,
        skip_keys=context.skip_keys,
        skip_origins=context.skip_origins,
        exclude=context.exclude,
        on_error=context.on_error,
    )


KIND = SourceKind("watch", WatchSourceConfig, _build, one_pass=True)
