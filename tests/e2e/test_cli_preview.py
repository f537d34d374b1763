"""``tcan-live preview`` against a real publisher, as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tcan_live.preview.config import PreviewConfig
from tcan_live.preview.publisher import PreviewPublisher

CLI = str(Path(sys.executable).with_name("tcan-live"))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "preview", *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.fixture
def live_publisher() -> Iterator[str]:
    """A publisher fed dual-colour frames by a thread until the test ends."""
    stop = threading.Event()
    microtubules = np.zeros((64, 64), np.uint16)
    microtubules[:, :32] = 3000
    actin = (3000 - microtubules).astype(np.uint16)
    colors = {"microtubules": "FF00FF", "actin": "00FFFF"}
    with PreviewPublisher(PreviewConfig(address="tcp://127.0.0.1:*", max_fps=50)) as publisher:

        def feed() -> None:
            t = 0
            while not stop.wait(0.01):  # pacing of a fake acquisition, not synchronisation
                for name, image in (("microtubules", microtubules), ("actin", actin)):
                    publisher.publish(
                        image,
                        kind="sr",
                        t=t,
                        channel=name,
                        pixel_size_nm=50.0,
                        latency_ms=40.0,
                        color=colors[name],
                    )
                t += 1

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        try:
            yield publisher.endpoint
        finally:
            stop.set()
            thread.join()


def test_preview_command_saves_composite_snapshots(live_publisher: str, tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    result = run_cli(
        live_publisher, "--count", "4", "--save-dir", str(snapshots), "--timeout", "30"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "received 4" in result.stdout
    assert "sr/microtubules" in result.stdout or "sr/actin" in result.stdout
    files = sorted(snapshots.glob("*.png"))
    assert len(files) == 4
    rgb = imread(files[-1])[..., :3]
    assert rgb.shape == (64, 64, 3)
    # Once both channels have arrived the snapshot is a composite: magenta left, cyan right.
    assert tuple(np.round(rgb[10, 5])) == (1.0, 0.0, 1.0)
    assert tuple(np.round(rgb[10, 60])) == (0.0, 1.0, 1.0)


def test_preview_command_times_out_clearly(tmp_path: Path) -> None:
    result = run_cli("tcp://127.0.0.1:9", "--count", "1", "--timeout", "0.5")
    assert result.returncode == 1
    assert "received 0 of 1 previews from tcp://127.0.0.1:9, then none for 0.5 s" in (
        " ".join(result.stdout.split())
    )


def test_preview_window_without_display_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = run_cli("--window", "--count", "1", "--timeout", "0.5", env=env)
    assert result.returncode == 2
    assert "--window needs a display" in result.stdout
