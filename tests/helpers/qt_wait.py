"""Waiting on conditions in Qt tests: the event loop runs while the condition is polled."""

from __future__ import annotations

import time
from collections.abc import Callable

from qtpy.QtCore import QEventLoop, QTimer

WAIT_S = 30.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S, what: str = "") -> None:
    """Process Qt events until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        loop = QEventLoop()  # runs Qt's events (signals from worker threads) for 10 ms
        QTimer.singleShot(10, loop.quit)
        loop.exec()
