"""Settle detection with a supplied clock."""

from __future__ import annotations

from tcan_live.sources.settle import SettleTracker, Verdict


def _stat(size: int, mtime_ns: int) -> tuple[int, int]:
    return (size, mtime_ns)


def test_a_file_is_tried_only_after_two_unchanged_checks_settle_apart() -> None:
    tracker = SettleTracker(settle_s=1.0, give_up_after_s=10.0)
    assert tracker.check("a", _stat(10, 1), now=0.0) is Verdict.WAIT  # first sight
    assert tracker.check("a", _stat(10, 1), now=0.5) is Verdict.WAIT  # unchanged, not settled
    assert tracker.check("a", _stat(20, 2), now=1.2) is Verdict.WAIT  # grew: clock restarts
    assert tracker.check("a", _stat(20, 2), now=2.0) is Verdict.WAIT
    assert tracker.check("a", _stat(20, 2), now=2.2) is Verdict.TRY


def test_a_close_event_tries_at_once_and_gives_up_after_long_quiet() -> None:
    tracker = SettleTracker(settle_s=5.0, give_up_after_s=3.0)
    assert tracker.check("a", _stat(10, 1), now=0.0, closed=True) is Verdict.TRY
    assert tracker.check("a", _stat(10, 1), now=1.0) is Verdict.TRY  # closed is remembered
    assert tracker.check("a", _stat(10, 1), now=3.5) is Verdict.GIVE_UP
    tracker.forget("a")
    assert "a" not in tracker and tracker.pending() == []


def test_mtime_change_without_size_change_counts_as_change() -> None:
    tracker = SettleTracker(settle_s=1.0, give_up_after_s=10.0)
    tracker.check("a", _stat(10, 1), now=0.0)
    assert tracker.check("a", _stat(10, 2), now=2.0) is Verdict.WAIT
    assert tracker.check("a", _stat(10, 2), now=3.0) is Verdict.TRY
