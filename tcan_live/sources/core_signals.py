"""Connecting to a pymmcore-plus core's events so handlers run on the thread that emits them.

pymmcore-plus picks its signal backend when a core is made: Qt signals if a Qt application
exists then, psygnal otherwise. A Qt signal emitted on the MDA thread is queued to the
connecting thread's event loop by default; a daemon (or the demo) whose main thread runs no
Qt event loop would then never receive a frame. Handlers here are written for the MDA thread
(they only copy and hand over), so they are connected directly under either backend.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_QT_BINDINGS = ("PyQt5", "PyQt6", "PySide2", "PySide6")


def _qt_direct_connection(signal: object) -> object | None:
    """Return Qt's ``DirectConnection`` if ``signal`` is a Qt signal, else None."""
    binding = type(signal).__module__.split(".")[0]
    if binding not in _QT_BINDINGS:
        return None
    qt_core = sys.modules[f"{binding}.QtCore"]
    return qt_core.Qt.ConnectionType.DirectConnection


def connect_on_emitting_thread(signal: Any, slot: Callable[..., object]) -> None:
    """Connect ``slot`` to a core or MDA ``signal`` so it is called on the emitting thread."""
    direct = _qt_direct_connection(signal)
    if direct is None:
        signal.connect(slot)
    else:
        signal.connect(slot, direct)
