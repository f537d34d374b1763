"""A real, tiny tmpfs for disk-full (ENOSPC) tests; skips where mounting is not permitted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_small_disk(mount_point: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"384k"``) at ``mount_point`` for the ``with`` block."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("ENOSPC test mounts a small tmpfs and needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def grow(mount_point: Path, size: str) -> None:
    """Give the mounted tmpfs more room (what freeing disk space does for the daemon)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)
