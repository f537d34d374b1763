"""A real X display for napari tests: Xvfb started by the tests, napari viewers on it.

napari draws with OpenGL; Qt's offscreen platform has no OpenGL context here, so the tests
start a virtual X server (Xvfb, Mesa's software OpenGL) and run Qt's xcb platform on it. The
README's set-up installs the system packages (``make system-deps``).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

START_TIMEOUT_S = 30.0


@contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display number; yield ``":N"``; stop it on exit."""
    xvfb = shutil.which("Xvfb")
    assert xvfb is not None, "Xvfb is not installed: run `make system-deps` (see README)"
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], START_TIMEOUT_S)
        assert ready, f"Xvfb did not report a display within {START_TIMEOUT_S} s"
        number = os.read(read_end, 64).decode().strip()
        assert number.isdigit(), f"Xvfb reported display {number!r}"
        yield f":{number}"
    finally:
        os.close(read_end)
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def display_environment() -> Iterator[str]:
    """Point Qt at a fresh Xvfb display for the duration, restoring the environment after."""
    saved = {name: os.environ.get(name) for name in ("DISPLAY", "QT_QPA_PLATFORM")}
    with virtual_display() as display:
        os.environ["DISPLAY"] = display
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        try:
            yield display
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
