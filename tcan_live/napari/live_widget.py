"""The live widget: connect napari to a running daemon's previews and show them as layers."""

from __future__ import annotations

from pathlib import Path

import napari
from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtCore import QTimer
from qtpy.QtGui import QCloseEvent
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tcan_live.napari.live_layers import LiveLayers
from tcan_live.napari.receiver import ReceiverControl, receive_previews
from tcan_live.preview.config import DEFAULT_ADDRESS
from tcan_live.preview.protocol import Preview


class LiveText(QPlainTextEdit):
    """Read-only text that changes without re-laying the window out.

    A QLabel's new text asks its parents for a new layout, which repaints the main window; with
    a software-rendered canvas that costs about as much as a frame (measured: docs/napari.md).
    A fixed-height text box repaints only itself.

    Parameters
    ----------
    lines
        Lines of text the box shows without scrolling.
    """

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        document = self.document()
        spacing = 2 * document.documentMargin() if document is not None else 0.0
        self.setFixedHeight(int(lines * self.fontMetrics().lineSpacing() + margins + spacing))

    def text(self) -> str:
        """Return the text shown."""
        return self.toPlainText()

    def setText(self, text: str) -> None:  # noqa: N802  # QLabel's name, for the same use
        """Show ``text`` in place of what was shown (unchanged text is not repainted)."""
        if text != self.toPlainText():
            self.setPlainText(text)


class LiveWidget(QWidget):
    """Dock widget: preview address, CURVE keys, connect/disconnect, QC figures, status.

    Parameters
    ----------
    napari_viewer
        The viewer whose layers show the previews (napari passes it).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.layers = LiveLayers(napari_viewer)
        self.control: ReceiverControl | None = None
        self._worker: GeneratorWorker | None = None

        self.address = QLineEdit(DEFAULT_ADDRESS)
        self.server_key = QLineEdit()
        self.server_key.setPlaceholderText("CURVE: server public key or certificate (optional)")
        self.client_key = QLineEdit()
        self.client_key.setPlaceholderText("CURVE: client certificate with secret (optional)")
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.5, 60.0)
        self.rate.setValue(ReceiverControl.max_rate_hz)
        self.rate.setSuffix(" Hz")
        self.rate.setToolTip("Most repaints per second; newer previews replace older ones.")
        self.rate.valueChanged.connect(self._set_rate)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0.5, 100.0)
        self.budget.setDecimals(1)
        self.budget.setValue(ReceiverControl.cpu_budget * 100)
        self.budget.setSuffix(" % CPU")
        self.budget.setToolTip(
            "Most of the machine's CPU (all cores together) the display may take from the "
            "daemon; the display rate drops where drawing costs more (software OpenGL)."
        )
        self.budget.valueChanged.connect(self._set_budget)
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self._toggle)
        self.raw_box = QCheckBox("Show raw")
        self.raw_box.toggled.connect(self._show_raw)
        self.qc_box = QCheckBox("Confidence overlay")
        self.qc_box.toggled.connect(self._show_qc)
        self.grid_box = QCheckBox("Raw | SR side by side")
        self.grid_box.toggled.connect(self.layers.side_by_side)
        self.status = LiveText(lines=3)
        self.status.setText("not connected")
        self.figures = LiveText(lines=10)

        form = QFormLayout()
        form.addRow("Address", self.address)
        form.addRow("Server key", self.server_key)
        form.addRow("Client key", self.client_key)
        form.addRow("Display rate", self.rate)
        form.addRow("Display budget", self.budget)
        boxes = QHBoxLayout()
        for box in (self.raw_box, self.qc_box, self.grid_box):
            boxes.addWidget(box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.connect_button)
        layout.addLayout(boxes)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("QC per frame"))
        layout.addWidget(self.figures)
        layout.addStretch()
        # The status rides on the batches' repaints; this timer updates it only while no batch
        # arrives (idle, or waiting for the daemon).
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self._update_idle_status)
        self._shown_since_tick = False

    @property
    def connected(self) -> bool:
        """Whether a receiver is running."""
        return self._worker is not None

    def connect_to(self, address: str | None = None) -> None:
        """Start receiving from ``address`` (the address field by default) off the main thread."""
        if self._worker is not None:
            self.disconnect_from()
        if address is not None:
            self.address.setText(address)
        server_key = self.server_key.text().strip() or None
        client_key = (
            Path(self.client_key.text().strip()) if self.client_key.text().strip() else None
        )
        control = ReceiverControl(
            max_rate_hz=self.rate.value(), cpu_budget=self.budget.value() / 100
        )
        worker = create_worker(
            receive_previews,
            self.address.text().strip(),
            control,
            server_key=server_key,
            client_key_file=client_key,
            _start_thread=False,
        )
        assert isinstance(worker, GeneratorWorker)
        worker.yielded.connect(self._show_batch)
        worker.errored.connect(self._failed)
        self.control, self._worker = control, worker
        worker.start()
        self.connect_button.setText("Disconnect")
        self._status_timer.start()
        self._update_status()

    def disconnect_from(self) -> None:
        """Stop receiving; the layers keep the last previews."""
        if self.control is not None:
            self.control.stop.set()
        if self._worker is not None and self.control is not None:
            # No worker.quit(): it abandons the generator at its last yield, leaving the socket
            # and its ZeroMQ context to the garbage collector. ``stop`` lets the generator
            # return by itself (within one 50 ms poll), closing the subscriber, then ``closed``.
            self.control.closed.wait(5.0)
        self._worker = None
        self._status_timer.stop()
        self.connect_button.setText("Connect")
        self._update_status()

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802  # Qt's name
        """Stop the receiver with the widget."""
        self.disconnect_from()
        super().closeEvent(event)

    def _toggle(self) -> None:
        if self.connected:
            self.disconnect_from()
        else:
            self.connect_to()

    def _show_batch(self, batch: list[Preview]) -> None:
        try:
            for preview in batch:
                self.layers.show(preview)
            self.figures.setText(self.layers.figures_text())
            self._update_status()
            self._shown_since_tick = True
        finally:
            if self.control is not None:
                self.control.ready.set()

    def _failed(self, error: Exception) -> None:
        self.status.setText(f"receiver stopped: {error}")
        self._worker = None
        self.connect_button.setText("Connect")

    def _set_rate(self, rate: float) -> None:
        if self.control is not None:
            self.control.max_rate_hz = rate

    def _set_budget(self, percent: float) -> None:
        if self.control is not None:
            self.control.cpu_budget = percent / 100

    def _show_raw(self, visible: bool) -> None:
        self.layers.show_raw = visible
        for layer in self.viewer.layers:
            if layer.name.startswith("raw "):
                layer.visible = visible

    def _show_qc(self, visible: bool) -> None:
        self.layers.show_qc = visible
        for layer in self.viewer.layers:
            if layer.name.startswith("confidence "):
                layer.visible = visible

    def _update_idle_status(self) -> None:
        if not self._shown_since_tick:
            self._update_status()
        self._shown_since_tick = False

    def _update_status(self) -> None:
        if self.control is None or not self.connected:
            self.status.setText("not connected")
            return
        control = self.control
        text = (
            f"{self.address.text()}: {control.received} previews received, "
            f"{sum(self.layers.frames.values())} shown, {control.merged} replaced by newer, "
            f"display up to {1 / control.wait_s:.1f} Hz"
        )
        if control.errors:
            text += f", {control.errors} refused ({control.last_error})"
        self.status.setText(text)
