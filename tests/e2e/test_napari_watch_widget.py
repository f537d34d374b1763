"""The napari watch-folder widget starts and stops a real ``tcan-live watch`` daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.core.tiff_files import write_tiff
from tcan_live.napari.bench import free_loopback_address
from tcan_live.napari.reader import read_store
from tcan_live.napari.watch_widget import WatchWidget, watch_arguments
from tests.helpers.daemon import DEMO_ENGINES, journal_counts
from tests.helpers.qt_wait import wait_until

FRAMES = 3


def acquisition(folder: Path) -> None:
    rng = np.random.default_rng(11)
    for t in range(FRAMES):
        write_tiff(folder / f"t{t}.tif", rng.integers(100, 3000, (40, 40), np.uint16), 50.0)


def config(tmp_path: Path, engines: Path) -> Path:
    """Channel, engine and a free preview port (never the default port other runs may hold)."""
    path = tmp_path / "watch.toml"
    path.write_text(
        '[source]\nkind = "watch"\nroot = "."\ndefault_channel = "microtubules"\n'
        f'[channels.microtubules]\nengine = "{engines / DEMO_ENGINES[0]}"\n'
        '[output]\npath = "ignored.zarr"\nfsync = false\n'
        f'[preview]\naddress = "{free_loopback_address()}"\n'
    )
    return path


def filled_widget(viewer: Any, tmp_path: Path, engines: Path, extra: str = "") -> WatchWidget:
    """A docked widget for an acquisition folder of FRAMES TIFFs and ``tmp_path/out.zarr``."""
    folder = tmp_path / "acq"
    acquisition(folder)
    widget = WatchWidget(viewer)
    viewer.window.add_dock_widget(widget, name="watch")
    widget.folder.setText(str(folder))
    widget.out.setText(str(tmp_path / "out.zarr"))
    widget.extra.setText(f"--config {config(tmp_path, engines)} {extra}")
    return widget


def test_watch_once_from_the_widget_fills_a_store(
    viewer: Any, tiny_engines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.zarr"
    widget = filled_widget(viewer, tmp_path, tiny_engines)
    widget.once.setChecked(True)
    widget.start()
    assert widget.running
    wait_until(lambda: widget.exit_code is not None, timeout=180, what="watch --once to finish")
    log = widget.log.toPlainText()
    assert widget.exit_code == 0, log
    assert f"{FRAMES} frames taken" in log
    assert widget.status.text() == "stopped (exit code 0)"
    assert journal_counts(out, "sr") == {(t, "microtubules"): 1 for t in range(FRAMES)}
    assert [options["name"] for _, options, _ in read_store(str(out))] == [
        ["raw microtubules"],
        ["SR microtubules"],
        ["confidence microtubules"],  # the consistency maps, hidden by default
    ]


def test_stop_ends_a_running_daemon_cleanly(
    viewer: Any, tiny_engines: Path, tmp_path: Path
) -> None:
    widget = filled_widget(viewer, tmp_path, tiny_engines, "--process-existing")
    widget.start()
    wait_until(
        lambda: "watch source" in widget.log.toPlainText(), timeout=120, what="daemon banner"
    )
    widget.stop()
    wait_until(lambda: widget.exit_code is not None, timeout=120, what="daemon to stop")
    assert widget.exit_code == 0, widget.log.toPlainText()
    assert "summary" in widget.log.toPlainText()


def test_bad_fields_say_what_is_missing(viewer: Any) -> None:
    widget = WatchWidget(viewer)
    widget.start()
    assert not widget.running
    assert widget.status.text() == "folder: choose the folder the acquisition writes into"
    widget.folder.setText("/data/acq")
    widget.out.setText("/data/out.zarr")
    widget.engines.setPlainText("microtubules=engines/mt\nactin")
    widget.start()
    assert widget.status.text() == "engines line 2 'actin': expected CHANNEL=ENGINE_FOLDER"
    assert watch_arguments("a", "b.zarr", "engines/mt", once=True) == [
        "watch",
        "a",
        "--out",
        "b.zarr",
        "--engine",
        "engines/mt",
        "--no-dashboard",
        "--once",
    ]
