"""When is a single-frame file finished? Settle detection that needs no close events.

inotify reports when a writer closes a file, but polling observers (network shares, other
systems) report only "created" and "modified". A file is therefore tried once its size and
modification time are unchanged across two checks at least ``settle_s`` apart, or at once after
a close event; the caller still parses it completely before taking it. A file that stays
unchanged yet unreadable for ``give_up_after_s`` is reported as corrupt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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

    def forget(self, key: str) -> None:
        """Stop tracking ``key`` (taken, failed or gone)."""
        self._files.pop(key, None)
