"""An append-only JSON-lines journal: the durable record of which frames a store holds.

One line per event, appended with a single ``write`` after the data it describes is on disk.
A process killed mid-line leaves a torn last line; readers skip lines that do not parse, so a
torn line is never mistaken for a record, and the next record starts on a fresh line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tcan_live.core.json_safe import dumps
from tcan_live.core.safe_paths import UnsafePathError


def parse_records(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Return the records of journal bytes and how many lines were torn or not objects."""
    records: list[dict[str, Any]] = []
    torn = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            torn += 1
    return records, torn


class FrameJournal:
    """Append-only record of store events (``raw``, ``sr``, ``skip``), in the order written.

    ``records`` holds what the file contained when opened (appends are not kept in memory).

    Parameters
    ----------
    path
        The journal file; created if missing.
    fsync
        Force each record to stable storage (survives power loss, not only a killed process).
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self._fsync = fsync
        if path.is_symlink():
            raise UnsafePathError(
                f"{path} is a symbolic link: the journal is only written to a real file"
            )
        data = path.read_bytes() if path.exists() else b""
        self.records, self.torn_lines = parse_records(data)
        self._needs_newline = bool(data) and not data.endswith(b"\n")
        # O_NOFOLLOW: a link planted after the check above is refused too (ELOOP).
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        self._fd: int | None = os.open(path, flags, 0o644)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line; raises ``OSError`` (e.g. ENOSPC) if it cannot."""
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        line = (dumps(record) + "\n").encode()
        if self._needs_newline:
            line = b"\n" + line
        # A failed or short write leaves a torn line: start the next record on a fresh line.
        self._needs_newline = True
        written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
        if self._fsync:
            os.fsync(self._fd)
        self._needs_newline = False

    def close(self) -> None:
        """Close the file; idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
