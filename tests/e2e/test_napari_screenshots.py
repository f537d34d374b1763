"""The README's napari screenshots, from the shipped engines (opt-in: ``-m slow``).

``tcan-live demo`` (a simulated dual-colour time-lapse acquired through a pymmcore-plus core,
its own process) publishes previews on the default loopback address; the live widget shows
them, then the demo's store is opened with the plugin's reader. With
``TCAN_LIVE_SCREENSHOT_DIR=docs`` the PNGs land in docs/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from imageio.v3 import imwrite

from tcan_live.napari.live_widget import LiveWidget
from tcan_live.preview.config import DEFAULT_ADDRESS
from tests.helpers.qt_wait import wait_until

CLI = str(Path(sys.executable).with_name("tcan-live"))


def save(viewer: Any, name: str, tmp_path: Path) -> np.ndarray:
    image = viewer.screenshot(canvas_only=False, flash=False)
    imwrite(Path(os.environ.get("TCAN_LIVE_SCREENSHOT_DIR", tmp_path)) / name, image)
    canvas = viewer.screenshot(canvas_only=True, flash=False)[..., :3]
    assert canvas.astype(float).std() > 10, f"{name}: the canvas is blank"
    return canvas


@pytest.mark.slow
def test_readme_screenshots_from_the_demo(viewer: Any, tmp_path: Path) -> None:
    widget = LiveWidget(viewer)
    viewer.window.add_dock_widget(widget, name="tcan-live live")
    widget.connect_to(DEFAULT_ADDRESS)
    demo = [CLI, "demo", "--frames", "6", "--size", "192", "--out", str(tmp_path / "demo")]
    with subprocess.Popen(
        [*demo, "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    ) as process:
        wait_until(
            lambda: {"SR microtubules", "SR actin"} <= set(widget.layers.frames),
            timeout=300,
            what="SR previews of both channels",
        )
        widget.raw_box.setChecked(True)
        widget.grid_box.setChecked(True)
        wait_until(lambda: process.poll() is not None, timeout=600, what="the demo to end")
    assert process.returncode == 0
    viewer.reset_view()
    save(viewer, "napari-live.png", tmp_path)
    widget.disconnect_from()
    viewer.window.remove_dock_widget(widget)
    viewer.layers.clear()
    viewer.canvas.grid.enabled = False
    viewer.open(str(tmp_path / "demo" / "demo.zarr"), plugin="tcan-live")
    for layer in viewer.layers:
        layer.visible = layer.name.startswith("SR ")
    viewer.dims.set_point(0, viewer.dims.range[0].stop)  # the last time point
    viewer.reset_view()
    save(viewer, "napari-store.png", tmp_path)
