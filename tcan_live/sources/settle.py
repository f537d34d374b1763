"""When is a single-frame file finished? Settle detection that needs no close events.

inotify reports when a writer closes a file, but polling observers (network shares, other
systems) report only "created" and "modified". A file is therefore tried once its size and
modification time are unchanged across two checks at least ``settle_s`` apart, or at once after
a close event; the caller still parses it completely before taking it. A file that stays
unchanged yet unreadable for ``give_up_after_s`` is reported as corrupt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Verdict(Enum):
    """What to do with a file after a check."""

    WAIT = "wait"  # still changing, or not settled yet
    TRY = "try"  # settled (or closed): parse it now
    GIVE_UP = "give-up"  # settled long ago and still not readable: report it


@dataclass
class _State:
    signature: tuple[int, int]
    changed_at: float
    closed: bool = False


class SettleTracker:
    """Per-file settle state; the caller supplies the clock, so the logic is deterministic."""

    def __init__(self, settle_s: float, give_up_after_s: float) -> None:
        self.settle_s = settle_s
        self.give_up_after_s = give_up_after_s
        self._files: dict[str, _State] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._files

    def pending(self) -> list[str]:
        """Files being tracked."""
        return list(self._files)

    def check(
        self, key: str, signature: tuple[int, int], now: float, closed: bool = False
    ) -> Verdict:
        """Record a check of ``key``.

        Parameters
        ----------
        signature
            The file's (size, modification time in ns) now.
        closed
            The writer was just seen closing the file (inotify).
        """
        state = self._files.get(key)
        if state is None or state.signature != signature:
            self._files[key] = _State(signature, now, closed)
            return Verdict.TRY if closed else Verdict.WAIT
        state.closed = state.closed or closed
        quiet_for = now - state.changed_at
        if quiet_for >= self.give_up_after_s:
            return Verdict.GIVE_UP
        if state.closed or quiet_for >= self.settle_s:
            return Verdict.TRY
        return Verdict.WAIT

    def restart(self, key: str, now: float) -> None:
        """Start ``key``'s quiet period again (its writer was seen still holding it open)."""
        state = self._files.get(key)
        if state is not None:
            state.changed_at = now
            state.closed = False

    def forget(self, key: str) -> None:
        """Stop tracking ``key`` (taken, failed or gone)."""
        self._files.pop(key, None)


def held_open_for_writing(path: Path) -> bool:
    """Whether a process on this machine has ``path`` open for writing (Linux ``/proc``).

    A writer that pre-allocates a file and fills it slowly, with pauses longer than
    ``settle_s``, looks settled from its size and time stamps alone; the writer's open
    descriptor says it is not done. Processes whose descriptors cannot be read (other users')
    and systems without ``/proc`` give False: settling then relies on the close event and the
    time stamps, as before.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    try:
        target = path.resolve()
    except (OSError, RuntimeError):
        return False
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            descriptors = os.listdir(proc / pid / "fd")
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(proc / pid / "fd" / fd) != str(target):
                    continue
                info = (proc / pid / "fdinfo" / fd).read_text()
            except OSError:
                continue
            flags = next(
                (line.split()[1] for line in info.splitlines() if line.startswith("flags:")), "0"
            )
            if int(flags, 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                return True
    return False
