"""A real daemon (``tcan-live run``, its own process) and napari's live widget (this process)
over real sockets: every published preview reaches its layer at the right scale, and an
attached viewer costs the daemon no throughput."""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tcan_live.core.tiff_files import write_tiff
from tcan_live.napari.live_widget import LiveWidget
from tcan_live.napari.receiver import ReceiverControl
from tests.helpers.daemon import DEMO_ENGINES
from tests.helpers.qt_wait import wait_until

CLI = str(Path(sys.executable).with_name("tcan-live"))
RAW_NM, SR_NM = 100.0, 50.0  # the tiny engines' training grid is 50 nm


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def replay_config(
    folder: Path, engines: Path, address: str, frames: int, side: int, rate_hz: float
) -> Path:
    """A replay of ``frames`` TIFFs (``side`` px at 100 nm) through the microtubules engine,
    into a store of its own (each call: a new config and output)."""
    rng = np.random.default_rng(21)
    files = []
    for t in range(frames):
        path = folder / "frames" / f"frame_t{t}.tif"
        if not path.exists():
            write_tiff(path, rng.integers(100, 3000, (side, side), np.uint16), RAW_NM)
        files.append(f'"frames/{path.name}"')
    config = folder / f"replay-{len(list(folder.glob('replay-*.toml')))}.toml"
    config.write_text(
        f'[source]\nkind = "replay"\nfiles = [{", ".join(files)}]\nrate_hz = {rate_hz}\n'
        'default_channel = "microtubules"\n'
        f'[channels.microtubules]\nengine = "{engines / DEMO_ENGINES[0]}"\n'
        f'[output]\npath = "out-{os.urandom(4).hex()}.zarr"\nfsync = false\n'
        f'[preview]\naddress = "{address}"\n'  # at the default 10 previews a second
        # One frame per batch: previews leave as frames do, not in bursts of a batch, whose
        # older members the publisher's latest-wins mailbox would replace.
        "[performance]\nbatch_frames = 1\n"
    )
    return config


def start_daemon(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CLI, "run", "--config", str(config), "--no-dashboard"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def finish(process: subprocess.Popen[str], timeout: float = 300) -> str:
    """Wait for the daemon (running Qt's events meanwhile) and return its output."""
    wait_until(lambda: process.poll() is not None, timeout=timeout, what="the daemon to finish")
    assert process.stdout is not None
    with process.stdout:
        output = process.stdout.read()
    assert process.returncode == 0, output
    return output


def figure(output: str, pattern: str) -> float:
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in the daemon's summary:\n{output}"
    return float(match.group(1))


def test_widget_layers_follow_every_published_frame_of_a_daemon(
    viewer: Any, tiny_engines: Path, tmp_path: Path
) -> None:
    # One frame a second: a software-rendered viewer (Mesa on two shared cores) repaints in
    # 50-200 ms, so it keeps up and nothing is replaced by a newer preview.
    frames = 10
    address = free_address()
    widget = LiveWidget(viewer)
    viewer.window.add_dock_widget(widget, name="live")
    widget.connect_to(address)  # before the daemon binds: ZeroMQ connects when it does
    try:
        process = start_daemon(replay_config(tmp_path, tiny_engines, address, frames, 40, 1.0))
        output = finish(process)
        sent = int(figure(output, r"sent (\d+)"))
        assert widget.control is not None
        shown = widget.layers.seqs
        wait_until(lambda: any(sent - 1 in seqs for seqs in shown.values()), what="the last")
        wait_until(lambda: widget.control is not None and widget.control.ready.is_set())
    finally:
        widget.disconnect_from()
    # A raw, an SR and a confidence preview per frame, less any the publisher's latest-wins
    # mailbox replaced before sending (the daemon never waits, not even for its publisher).
    assert frames <= sent <= 3 * frames, output
    # A PUB discards what it sends before a subscription has reached it, and while the viewer
    # makes its first layers (a second or so of software rendering) the daemon's first
    # previews come faster than it paints, so the newest of a topic replaces older ones
    # (latest wins). From then on the widget shows every preview the daemon published.
    seqs = sorted(s for shown in widget.layers.seqs.values() for s in shown)
    assert len(seqs) + widget.control.merged == widget.control.received
    tail = next(i for i in range(len(seqs)) if seqs[i:] == list(range(seqs[i], sent)))
    assert len(seqs) - tail >= frames, seqs  # at least the second half, unbroken
    assert {"raw microtubules", "SR microtubules"} <= set(widget.layers.frames)
    raw, sr = viewer.layers["raw microtubules"], viewer.layers["SR microtubules"]
    np.testing.assert_allclose(raw.scale, [RAW_NM / 1000] * 2)
    np.testing.assert_allclose(sr.scale, [SR_NM / 1000] * 2)
    assert raw.data.shape == (40, 40) and sr.data.shape == (80, 80)
    assert float(np.asarray(sr.data).std()) > 0


def frames_per_second(store: Path) -> float:
    """The daemon's own rate: frames over first raw stored to last SR stored (its journal)."""
    with (store / "tcan_live" / "journal.jsonl").open() as journal:
        records = [json.loads(line) for line in journal]
    raw = [r["stored_at"] for r in records if r["event"] == "raw"]
    sr = [r["completed_at"] for r in records if r["event"] == "sr"]
    return len(sr) / (max(sr) - min(raw))


def daemon_speed(viewer: Any, config: Path, address: str, attached: bool) -> tuple[float, int]:
    """Frames per second of one daemon run, and the previews the widget received."""
    widget = LiveWidget(viewer)
    widget.rate.setValue(display_rate())
    if attached:
        widget.connect_to(address)
    try:
        output = finish(start_daemon(config))
    finally:
        received = widget.control.received if widget.control else 0
        widget.disconnect_from()
        widget.close()
    assert f"{FRAMES} super-resolved" in output, output
    store = config.parent / re.findall(r'path = "([^"]+)"', config.read_text())[0]
    return frames_per_second(store), received


def display_rate() -> float:
    """The widget's display rate for the measurement (``TCAN_LIVE_DISPLAY_RATE``, else 5 Hz)."""
    return float(os.environ.get("TCAN_LIVE_DISPLAY_RATE", ReceiverControl.max_rate_hz))


FRAMES, SIDE = 24, 128  # each frame: 256 x 256 on the engine's grid, 256 tiles of 32 px


@pytest.mark.slow
def test_an_attached_viewer_costs_the_daemon_under_5_percent(
    viewer: Any, tiny_engines: Path, tmp_path: Path
) -> None:
    """Runs alternate without and with the widget, in one session; medians are compared."""
    address = free_address()
    speeds: dict[bool, list[float]] = {False: [], True: []}
    received = 0
    for _ in range(3):
        for attached in (False, True):
            config = replay_config(tmp_path, tiny_engines, address, FRAMES, SIDE, 0.0)
            speed, got = daemon_speed(viewer, config, address, attached)
            speeds[attached].append(speed)
            received += got
    without, with_widget = statistics.median(speeds[False]), statistics.median(speeds[True])
    ratio = with_widget / without
    print(
        f"\ndaemon throughput, {FRAMES} frames of {SIDE} x {SIDE} (tiny engine, tile 32), "
        f"display rate {display_rate():g} Hz: "
        f"without widget {[round(v, 3) for v in speeds[False]]} frames/s (median "
        f"{without:.3f}), with widget {[round(v, 3) for v in speeds[True]]} frames/s (median "
        f"{with_widget:.3f}); ratio {ratio:.3f}; "
        f"{received} previews shown by the widget"
    )
    assert received > 0
    assert ratio >= 0.95
