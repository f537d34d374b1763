"""What an attached napari viewer costs a daemon: throughput with and without the live widget.

Each turn runs a real daemon (``tcan-live run``, its own process) on the same replayed frames
twice, once with nobody listening and once with this process's napari viewer showing its
previews through the live widget; the two alternate, in an order flipped every turn, so a busy
machine slows both alike and neither always runs second.
The daemon's rate is read from its own journal (first raw frame stored to last result
stored), so start-up and the viewer's first paint are not counted.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcan_live.bench.pipeline import timelapse_frames
from tcan_live.core.tiff_files import write_tiff
from tcan_live.engine.manifest import read_manifest
from tcan_live.napari.receiver import usable_cpus
from tcan_live.napari.watch_widget import tcan_live_program
from tcan_live.sinks.journal import parse_records
from tcan_live.sinks.store_layout import JOURNAL_PATH

if TYPE_CHECKING:
    import napari

    from tcan_live.napari.live_widget import LiveWidget

DAEMON_TIMEOUT_S = 1800.0
_CHANNEL = "microtubules"


def free_loopback_address() -> str:
    """Return a ``tcp://127.0.0.1:PORT`` address whose port was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def replay_frames(folder: Path, frames: int, size: int) -> list[Path]:
    """Write a simulated microtubule time-lapse as TIFFs (with their pixel size)."""
    stack, pixel_size_nm = timelapse_frames(frames, size)
    return [
        write_tiff(folder / "frames" / f"frame_t{t}.tif", stack[t, 0], pixel_size_nm)
        for t in range(frames)
    ]


def replay_config(folder: Path, files: list[Path], engine: Path, address: str, turn: str) -> Path:
    """Write a daemon config replaying ``files`` as fast as possible into a store of its own.

    One frame per batch, so previews leave as frames do rather than in bursts that the
    publisher's latest-wins mailbox would merge.
    """
    listed = ", ".join(f'"{path.as_posix()}"' for path in files)
    config = folder / f"{turn}.toml"
    config.write_text(
        f'[source]\nkind = "replay"\nfiles = [{listed}]\nrate_hz = 0.0\n'
        f'default_channel = "{_CHANNEL}"\n'
        f'[channels.{_CHANNEL}]\nengine = "{engine.resolve().as_posix()}"\n'
        f'[output]\npath = "{(folder / f"{turn}.zarr").as_posix()}"\nfsync = false\n'
        f'[preview]\naddress = "{address}"\n'
        "[performance]\nbatch_frames = 1\n",
        encoding="utf-8",
    )
    return config


def daemon_rate(store: Path) -> tuple[float, int]:
    """Return the daemon's frames per second (first raw stored to last SR stored) and count."""
    records, _ = parse_records((store / JOURNAL_PATH).read_bytes())
    raw = [float(r["stored_at"]) for r in records if r.get("event") == "raw"]
    done = [float(r["completed_at"]) for r in records if r.get("event") == "sr"]
    if not raw or not done:
        raise RuntimeError(f"{store}: the daemon stored no super-resolved frame")
    return len(done) / max(max(done) - min(raw), 1e-9), len(done)


def wait_for(process: subprocess.Popen[str], timeout_s: float) -> None:
    """Run Qt's event loop (the widget paints meanwhile) until ``process`` exits."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    deadline = time.monotonic() + timeout_s

    def check() -> None:
        if process.poll() is not None or time.monotonic() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    loop.exec()
    poll.stop()
    if process.poll() is None:
        process.kill()
        raise RuntimeError(f"the daemon did not finish within {timeout_s:.0f} s")


def run_daemon(config: Path, timeout_s: float = DAEMON_TIMEOUT_S) -> None:
    """Run ``tcan-live run --config CONFIG`` to the end, serving Qt's events meanwhile."""
    command = [tcan_live_program(), "run", "--config", str(config), "--no-dashboard"]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        wait_for(process, timeout_s)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        last = text.strip().splitlines()[-1] if text.strip() else "no output"
        raise RuntimeError(f"the daemon ({config}) exited with {process.returncode}: {last}")


_QT_PROBE = "from qtpy.QtWidgets import QApplication; QApplication([])"


def _need_display() -> None:
    """Refuse in one line where Qt cannot open a window (it would abort this process)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    on_linux = sys.platform.startswith("linux")
    if (
        on_linux
        and not platform
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise ValueError(
            "bench napari: no display (DISPLAY is not set): run it in a desktop session "
            "or under a virtual one, e.g. `xvfb-run -a tcan-live bench napari ...`"
        )
    # Qt ends the process (abort) when its platform cannot start, so a child tries first.
    probe = subprocess.run(
        [sys.executable, "-c", _QT_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        lines = [line for line in (probe.stderr or probe.stdout).splitlines() if line.strip()]
        where = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or platform
        raise ValueError(
            f"bench napari: Qt cannot open a window on {where!r} "
            f"({lines[0].strip() if lines else f'exit {probe.returncode}'}): check the display, "
            "or run under `xvfb-run -a`"
        )


def viewer_cost(
    engine: Path,
    *,
    frames: int = 48,
    size: int = 256,
    repeats: int = 8,
    display_rate_hz: float = 5.0,
    viewer: napari.Viewer | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Measure the daemon's throughput without and with an attached live widget.

    Parameters
    ----------
    engine
        The engine folder the daemon runs.
    frames, size
        Frames replayed per daemon run, and their side (px, at the engine's pixel size).
    repeats
        Turns; each runs the daemon once without and once with the widget attached, in an
        order flipped every turn. On a shared 2-core machine one turn's ratio spreads by about
        7 % (standard deviation), so the default 8 turns give their mean a standard error of
        about 2.5 % (the report adds a one-sided 95 % lower bound).
    display_rate_hz
        The widget's display-rate cap (its default is 5 Hz).
    viewer
        A viewer to use (one is made, shown and closed otherwise).

    Returns
    -------
    dict
        JSON-ready: per-turn frames/s without and with, their medians and the ratio of the
        medians (``with_over_without``), each turn's ratio and their median
        (``median_turn_ratio``), their mean and its standard error (``turn_ratio_mean``,
        ``turn_ratio_sem``, None for one turn), and, as medians over the runs without and with
        the widget: the share of the machine's CPUs this process used, the daemon's CPU
        seconds per frame, the share the rest of the machine (the X server, other processes)
        and the hypervisor took; previews received and given to layers.
    """
    read_manifest(engine)  # a bad engine folder fails here, in one line, before any daemon runs
    if viewer is None:
        _need_display()
    import napari

    from tcan_live.napari.live_widget import LiveWidget

    own_viewer = viewer is None
    shown_viewer = napari.Viewer(show=True) if viewer is None else viewer
    widget = LiveWidget(shown_viewer)
    widget.rate.setValue(display_rate_hz)
    shown_viewer.window.add_dock_widget(widget, name="tcan-live bench")
    try:
        with tempfile.TemporaryDirectory(prefix="tcan-live-bench-napari-") as scratch:
            folder = Path(scratch)
            files = replay_frames(folder, frames, size)
            report = _turns(folder, files, engine, widget, repeats, log)
    finally:
        widget.disconnect_from()
        if own_viewer:
            shown_viewer.close()
    report.update(engine=str(engine), frames=frames, size=size, display_rate_hz=display_rate_hz)
    return report


def _children_cpu_s() -> float | None:
    """CPU seconds (user + system) of this process's finished and reaped children.

    None where the platform does not count them (Windows reports 0).
    """
    if os.name != "posix":
        return None
    times = os.times()
    return times.children_user + times.children_system


def _machine_cpu_s() -> tuple[float, float]:
    """CPU seconds the machine's CPUs spent running anything, and those its hypervisor took."""
    import psutil

    times = psutil.cpu_times()
    # Linux counts guest time inside user; steal (another tenant's) is kept apart.
    fields = ("user", "nice", "system", "irq", "softirq")
    return float(sum(getattr(times, name, 0.0) for name in fields)), getattr(times, "steal", 0.0)


MODES = ("without", "with")


def summarise_turns(
    speeds: dict[str, list[float]], shares: dict[str, dict[str, list[float | None]]]
) -> dict[str, Any]:
    """Summarise alternating runs: ratios per turn, their median, mean and its uncertainty.

    Parameters
    ----------
    speeds
        Frames per second of each run, per mode (``"without"``, ``"with"``), turn by turn.
    shares
        Per measure (e.g. ``"viewer_cpu_share"``), per mode, one value per run (None where
        the platform cannot measure it); reported as ``MEASURE_MODE`` medians.

    Returns
    -------
    dict
        Per-turn ratios (with / without) and their median, mean, standard error and one-sided
        95 % lower bound (Student's t; None for one turn), the medians of each mode and their
        ratio, and each measure's median per mode.
    """
    from scipy import stats

    per_turn = [w / wo for wo, w in zip(speeds["without"], speeds["with"], strict=True)]
    mean = statistics.fmean(per_turn)
    sem = statistics.stdev(per_turn) / len(per_turn) ** 0.5 if len(per_turn) > 1 else None
    lower = None if sem is None else mean - float(stats.t.ppf(0.95, len(per_turn) - 1)) * sem
    without, with_viewer = statistics.median(speeds["without"]), statistics.median(speeds["with"])
    report: dict[str, Any] = {
        "repeats": len(per_turn),
        "frames_per_s_without": speeds["without"],
        "frames_per_s_with": speeds["with"],
        "median_without": without,
        "median_with": with_viewer,
        "with_over_without": with_viewer / without,
        # A turn's two runs follow each other, so their ratio is least moved by the machine's
        # load drifting between turns; the ratio of the medians is reported beside it.
        "per_turn_ratios": per_turn,
        "median_turn_ratio": statistics.median(per_turn),
        "turn_ratio_mean": mean,
        "turn_ratio_sem": sem,
        "turn_ratio_lower_95": lower,
    }
    for measure, by_mode in shares.items():
        for mode in MODES:
            values = [v for v in by_mode[mode] if v is not None]
            report[f"{measure}_{mode}"] = statistics.median(values) if values else None
    return report


def _turns(
    folder: Path,
    files: list[Path],
    engine: Path,
    widget: LiveWidget,
    repeats: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    speeds: dict[str, list[float]] = {mode: [] for mode in MODES}
    # Where the machine's CPU went during each run, as shares of its CPUs: this process (viewer,
    # widget, receiver, software OpenGL threads), the rest of the machine (the X server, other
    # processes; what is left of the busy time after the daemon and this process, unclipped, so
    # an accounting mismatch shows) and the hypervisor (steal); and the daemon's own CPU per
    # frame, start-up (imports, engine load) included.
    measures = ("viewer_cpu_share", "others_cpu_share", "steal_share", "daemon_cpu_s_per_frame")
    shares: dict[str, dict[str, list[float | None]]] = {
        measure: {mode: [] for mode in MODES} for measure in measures
    }
    cpus = usable_cpus()
    received = shown = 0
    for turn in range(repeats):
        # Each turn's order flips: back-to-back daemon runs are not alike (the second of two
        # identical runs measured 2-5 % faster), so a fixed order would favour one side.
        for mode in MODES if turn % 2 == 0 else MODES[::-1]:
            log(f"turn {turn + 1}/{repeats}: daemon {mode} the viewer attached")
            address = free_loopback_address()
            name = f"{mode}-{turn}"
            config = replay_config(folder, files, engine, address, name)
            before = sum(widget.layers.frames.values())
            if mode == "with":
                widget.connect_to(address)
            cpu_start, wall_start = time.process_time(), time.monotonic()
            daemon_start, (busy_start, steal_start) = _children_cpu_s(), _machine_cpu_s()
            try:
                run_daemon(config)
                cpu_s, wall_s = time.process_time() - cpu_start, time.monotonic() - wall_start
                daemon_end, (busy_end, steal_end) = _children_cpu_s(), _machine_cpu_s()
                machine_s = wall_s * cpus
                shares["viewer_cpu_share"][mode].append(cpu_s / machine_s)
                shares["steal_share"][mode].append((steal_end - steal_start) / machine_s)
                if daemon_end is None or daemon_start is None:
                    shares["daemon_cpu_s_per_frame"][mode].append(None)
                    shares["others_cpu_share"][mode].append(None)
                else:
                    daemon_s = daemon_end - daemon_start
                    shares["daemon_cpu_s_per_frame"][mode].append(daemon_s / len(files))
                    others_s = busy_end - busy_start - daemon_s - cpu_s
                    shares["others_cpu_share"][mode].append(others_s / machine_s)
            finally:
                got = widget.control.received if mode == "with" and widget.control else 0
                if mode == "with":
                    widget.disconnect_from()
            if mode == "with" and got == 0:  # the run was not measured with a viewer attached
                raise RuntimeError(
                    f"{name}: the widget received no preview from {address} (the daemon finished "
                    "before the subscription reached it?): use more --frames"
                )
            received += got
            shown += sum(widget.layers.frames.values()) - before
            rate, stored = daemon_rate(folder / f"{name}.zarr")
            if stored != len(files):
                raise RuntimeError(f"{name}: {stored} of {len(files)} frames super-resolved")
            speeds[mode].append(rate)
    return summarise_turns(speeds, shares) | {
        "logical_cpus": cpus,
        "previews_received": received,
        "previews_shown": shown,
    }
