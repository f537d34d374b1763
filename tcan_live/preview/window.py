"""An on-screen preview window (matplotlib), only where a display exists."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np


def display_problem() -> str | None:
    """Return why no window can be opened here, or None when a display is available."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return (
            "--window needs a display: DISPLAY and WAYLAND_DISPLAY are unset (use --save-dir "
            "for PNG snapshots, or run on the microscope PC's desktop)"
        )
    return None


class PreviewWindow:
    """A matplotlib figure that shows the latest RGB preview."""

    def __init__(self, title: str) -> None:
        import matplotlib.pyplot as plt

        if plt.get_backend().lower() in ("agg", "pdf", "svg", "ps", "cairo", "template"):
            raise RuntimeError(
                f"--window: matplotlib backend {plt.get_backend()!r} cannot open windows "
                "(set MPLBACKEND to an interactive backend such as TkAgg or QtAgg)"
            )
        self._plt = plt
        self._figure, axes = plt.subplots()
        if self._figure.canvas.manager is not None:
            self._figure.canvas.manager.set_window_title(title)
        axes.set_axis_off()
        self._axes = axes
        self._artist: Any = None
        plt.ion()
        plt.show(block=False)

    def show(self, rgb: np.ndarray, title: str) -> None:
        """Display ``rgb`` and process window events briefly."""
        if self._artist is None or self._artist.get_array().shape != rgb.shape:
            self._axes.clear()
            self._axes.set_axis_off()
            self._artist = self._axes.imshow(rgb)
        else:
            self._artist.set_data(rgb)
        self._axes.set_title(title)
        self._plt.pause(0.001)

    @property
    def closed(self) -> bool:
        """True once the user has closed the window."""
        return not self._plt.fignum_exists(self._figure.number)
