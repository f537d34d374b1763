"""A real daemon (``tcan-live run``, its own process) and napari's live widget (this process)
over real sockets: every published preview reaches its layer at the right scale; the
measurement of what an attached viewer costs the daemon (``tcan-live bench napari``) runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tcan_live.core.tiff_files import write_tiff
from tcan_live.napari.bench import free_loopback_address, viewer_cost
from tcan_live.napari.live_widget import LiveWidget
from tests.helpers.daemon import DEMO_ENGINES
from tests.helpers.qt_wait import wait_until

CLI = str(Path(sys.executable).with_name("tcan-live"))
RAW_NM, SR_NM = 100.0, 50.0  # the tiny engines' training grid is 50 nm


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
    address = free_loopback_address()
    widget = LiveWidget(viewer)
    # The whole machine as display budget: this test is about the wire, not the pacing
    # (tests/unit/test_display_budget.py), and at the default 2 % repaints here come 2 s apart.
    widget.budget.setValue(100.0)
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


def test_bench_napari_runs_a_daemon_with_and_without_the_widget(
    viewer: Any, tiny_engines: Path
) -> None:
    """``tcan-live bench napari``'s measurement: whole runs each way, the widget shows previews.

    The ratio itself is the bench's output (README, napari), not asserted: a timing on a
    shared CI machine says nothing about the code.
    """
    report = viewer_cost(
        tiny_engines / DEMO_ENGINES[0], frames=24, size=64, repeats=1, viewer=viewer
    )
    assert len(report["frames_per_s_without"]) == len(report["frames_per_s_with"]) == 1
    assert report["median_without"] > 0 and report["median_with"] > 0
    assert report["with_over_without"] == report["median_with"] / report["median_without"]
    assert report["median_turn_ratio"] == report["per_turn_ratios"][0]
    assert 0 < report["previews_shown"] <= report["previews_received"]
    assert 0 <= report["viewer_cpu_share_without"] <= 1 and 0 < report["viewer_cpu_share_with"] <= 1
    # Where the daemon's time went: its own CPU per frame (a reaped child's), the rest's share.
    assert (
        report["daemon_cpu_s_per_frame_without"] > 0 and report["daemon_cpu_s_per_frame_with"] > 0
    )
    for mode in ("without", "with"):
        # The rest is unclipped (busy time less the daemon's and the viewer's): an accounting
        # mismatch (the daemon's CPU not reaped, counted twice) would push it far from 0.
        assert -0.1 < report[f"others_cpu_share_{mode}"] < 0.5
        assert 0 <= report[f"steal_share_{mode}"] <= 1
    assert report["turn_ratio_mean"] == report["per_turn_ratios"][0]
    assert report["turn_ratio_sem"] is None and report["turn_ratio_lower_95"] is None


def test_bench_napari_without_a_display_says_so_in_one_line(
    tiny_engines: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tcan_live.cli.main import app

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    engine = str(tiny_engines / DEMO_ENGINES[0])
    result = CliRunner().invoke(app, ["bench", "napari", "--engine", engine])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "no display" in result.output


def test_bench_napari_on_a_display_that_is_not_there_says_so_in_one_line(
    tiny_engines: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Qt aborts the process when it cannot reach its display; the bench refuses first."""
    from typer.testing import CliRunner

    from tcan_live.cli.main import app

    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":987")  # no X server here listens there
    engine = str(tiny_engines / DEMO_ENGINES[0])
    result = CliRunner().invoke(app, ["bench", "napari", "--engine", engine])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "cannot open a window on ':987'" in result.output
