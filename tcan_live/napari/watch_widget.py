"""A widget that starts and stops a watch-folder daemon (``tcan-live watch``) from napari.

The daemon runs as its own process, exactly as ``tcan-live watch`` would from a terminal, so a
viewer that freezes or closes never takes the acquisition's processing with it; stopping sends
SIGINT, on which the daemon drains what it has and closes the store.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from qtpy.QtCore import QProcess
from qtpy.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

# Lines of the daemon's output kept in the widget.
_KEPT_LINES = 200


def tcan_live_program() -> str:
    """Return the ``tcan-live`` command of the running interpreter's environment."""
    beside = Path(sys.executable).with_name("tcan-live")
    return str(beside) if beside.exists() else "tcan-live"


def engine_options(table: str) -> list[str]:
    """Turn lines of ``CHANNEL=ENGINE`` (or one bare ``ENGINE`` for all) into watch options.

    Raises
    ------
    ValueError
        For an empty table or a line that is neither form, naming the line.
    """
    lines = [line.strip() for line in table.splitlines() if line.strip()]
    if not lines:
        raise ValueError("engines: give ENGINE_FOLDER, or CHANNEL=ENGINE_FOLDER per line")
    if len(lines) == 1 and "=" not in lines[0]:
        return ["--engine", lines[0]]
    options: list[str] = []
    for number, line in enumerate(lines, start=1):
        channel, sep, engine = line.partition("=")
        if not sep or not channel.strip() or not engine.strip():
            raise ValueError(f"engines line {number} {line!r}: expected CHANNEL=ENGINE_FOLDER")
        options += ["--engine-for", f"{channel.strip()}={engine.strip()}"]
    return options


def watch_arguments(
    folder: str, out: str, engines: str, *, once: bool, extra: Sequence[str] = ()
) -> list[str]:
    """Return the ``tcan-live watch`` arguments for the widget's fields.

    ``extra`` are further ``watch`` options; with ``--config`` among them the engines table
    may stay empty (the config names the channels' engines).

    Raises
    ------
    ValueError
        When the folder or output is missing, or the engines table is malformed.
    """
    if not folder.strip():
        raise ValueError("folder: choose the folder the acquisition writes into")
    if not out.strip():
        raise ValueError("output: choose where the OME-Zarr store goes (e.g. OUT.zarr)")
    arguments = ["watch", folder.strip(), "--out", out.strip()]
    if engines.strip() or "--config" not in extra:  # a config file names the engines itself
        arguments += engine_options(engines)
    arguments += ["--no-dashboard", *(["--once"] if once else []), *extra]
    return arguments


class WatchWidget(QWidget):
    """Dock widget: folder, output, engines per channel; Start and Stop the daemon.

    Parameters
    ----------
    napari_viewer
        The viewer (unused: the daemon's previews reach napari through the live widget).
    """

    def __init__(self, napari_viewer: object = None) -> None:
        super().__init__()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder the acquisition writes into")
        self.out = QLineEdit()
        self.out.setPlaceholderText("output store, e.g. /data/run1.zarr")
        self.engines = QPlainTextEdit()
        self.engines.setPlaceholderText(
            "engines/microtubules-small   (every channel)\nor one per line:\n"
            "microtubules=engines/microtubules-small\nactin=engines/actin-small"
        )
        self.extra = QLineEdit()
        self.extra.setPlaceholderText("more watch options, e.g. --config preview.toml")
        self.once = QCheckBox("Process what is there, then stop (--once)")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.status = QLabel("stopped")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(_KEPT_LINES)

        form = QFormLayout()
        form.addRow("Folder", self.folder)
        form.addRow("Output", self.out)
        form.addRow("Engines", self.engines)
        form.addRow("Options", self.extra)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.once)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.log)

        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.exit_code: int | None = None

    @property
    def running(self) -> bool:
        """Whether the daemon process is running."""
        return bool(self.process.state() != QProcess.ProcessState.NotRunning)

    def start(self) -> None:
        """Start ``tcan-live watch`` with the fields' settings; a bad field shows one line."""
        if self.running:
            return
        try:
            arguments = watch_arguments(
                self.folder.text(),
                self.out.text(),
                self.engines.toPlainText(),
                once=self.once.isChecked(),
                extra=shlex.split(self.extra.text()),
            )
        except ValueError as error:
            self.status.setText(str(error))
            return
        self.exit_code = None
        self.log.appendPlainText("$ tcan-live " + shlex.join(arguments))
        self.process.start(tcan_live_program(), arguments)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"watching {self.folder.text().strip()}")

    def stop(self) -> None:
        """Ask the daemon to stop (SIGINT: it finishes its frames and closes the store)."""
        if self.running:
            pid = int(self.process.processId())
            if pid > 0:
                os.kill(pid, signal.SIGINT)
            self.status.setText("stopping: finishing the frames in hand")

    def _read_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput().data()).decode(errors="replace")
        for line in text.splitlines():
            if line.strip():
                self.log.appendPlainText(line)

    def _finished(self, exit_code: int, _status: object) -> None:
        self._read_output()
        self.exit_code = int(exit_code)
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.status.setText(f"stopped (exit code {exit_code})")
