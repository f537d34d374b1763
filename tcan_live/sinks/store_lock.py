"""One writer per store: an exclusive lock held for the writing process's life.

Two daemons on one store would each keep their own idea of the arrays' length, write chunks
outside the other's shape and journal frames twice. The lock is an ``flock`` on a file inside
the store, so the operating system releases it when the holder exits in any way (a SIGKILL
included) and a restart after a crash is never refused by a stale lock. The file records who
holds it (PID, host, since when), for the refusal message. ``flock`` is advisory and local:
it does not protect a store on a network share written from two machines (documented).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".tcan-live.lock"


class StoreInUseError(RuntimeError):
    """Another process holds the store's lock; the message names it."""


class StoreLock:
    """The exclusive lock of the store at ``store`` (a folder, created when missing)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.path = store / LOCK_NAME
        self._fd: int | None = None
        self.made_store = False  # the lock created the store's folder

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreInUseError` naming the process that holds it.

        Raises
        ------
        StoreInUseError
            Another process (or another sink in this one) writes the store.
        OSError
            The store cannot be created, or the lock file is a symbolic link (``ELOOP``).
        """
        if self._fd is not None:
            return
        import fcntl  # POSIX; tcan-live's daemon targets Linux and macOS

        self.made_store = not self.store.exists()
        self.store.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise StoreInUseError(
                f"{self.store} is being written by another tcan-live process ({holder}): one "
                "process writes a store at a time; stop that one or choose another output"
            ) from None
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.write(fd, f"PID {os.getpid()} on host {socket.gethostname()} since {since}\n".encode())
        self._fd = fd

    def release(self, *, unused: bool = False) -> None:
        """Release the lock; idempotent.

        ``unused``: nothing was written; a store folder the lock itself created is removed
        again, so a run refused before its first frame leaves nothing behind.
        """
        if self._fd is None:
            return
        if unused and self.made_store:
            self.path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty after all: keep it
                self.store.rmdir()
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = None


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 512).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"
