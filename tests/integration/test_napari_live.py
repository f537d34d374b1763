"""The napari live widget against a real publisher on loopback sockets, in a real viewer."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq
import zmq.auth
from imageio.v3 import imwrite

from tcan_live.napari.bench import free_loopback_address
from tcan_live.napari.live_widget import LiveWidget
from tcan_live.napari.receiver import ReceiverControl, receive_previews
from tcan_live.preview.config import PreviewConfig
from tcan_live.preview.protocol import Preview, encode
from tcan_live.preview.publisher import PreviewPublisher
from tests.helpers.qt_wait import wait_until

CHANNELS = {"microtubules": "FF00FF", "actin": "00FFFF"}
RAW_NM, SR_NM = 100.0, 50.0


def frames(t: int, channel: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A raw frame (64 px at 100 nm), its 2x SR (128 px at 50 nm) and a z-map on the raw grid."""
    yy, xx = np.mgrid[0:64, 0:64]
    along = xx if channel == "actin" else yy
    raw = (1000 + 800 * np.sin(along / 5.0 + t)).astype(np.uint16)
    sr = np.kron(raw.astype(np.float32), np.ones((2, 2), np.float32))
    z = np.zeros((64, 64), np.float32)
    z[20:30, 20:30] = 4.0  # a patch the output is not supported by
    return raw, sr, z


class WirePublisher:
    """A PUB socket sending protocol-encoded raw, SR and confidence (``qc``) previews.

    Written with the wire format itself, so the test sets every header field (QC figures, a
    list the widget must not show) that the daemon's publisher would fill from real results.
    """

    def __init__(self, address: str) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.socket = self.context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(address)
        self.seq = 0

    def publish(self, image: np.ndarray, **header: Any) -> None:
        self.socket.send_multipart(encode({"seq": self.seq, **header}, image))
        self.seq += 1

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()


def publish_time_point(publisher: WirePublisher | PreviewPublisher, t: int) -> None:
    for channel, color in CHANNELS.items():
        raw, sr, z = frames(t, channel)
        common: dict[str, Any] = {"t": t, "channel": channel, "color": color}
        publisher.publish(raw, kind="raw", pixel_size_nm=RAW_NM, **common)
        publisher.publish(
            sr, kind="sr", pixel_size_nm=SR_NM, qc={"input_mean": float(raw.mean())}, **common
        )
        if isinstance(publisher, WirePublisher):
            figures = {"consistency_rms": 1.25, "outlier_fraction": 0.024, "flagged": False}
            publisher.publish(
                z, kind="qc", t=t, channel=channel, pixel_size_nm=RAW_NM, qc=figures | {"n": [1]}
            )


@pytest.fixture
def widget(viewer: Any) -> Iterator[LiveWidget]:
    live = LiveWidget(viewer)
    viewer.window.add_dock_widget(live, name="tcan-live live")
    try:
        yield live
    finally:
        live.disconnect_from()


def feed_until(
    publisher: WirePublisher | PreviewPublisher, widget: LiveWidget, condition: Any, what: str
) -> int:
    """Publish time points until ``condition()`` holds (ZeroMQ's slow joiner drops the first)."""
    t = 0

    def fed() -> bool:
        nonlocal t
        if condition():
            return True
        if widget.control is not None and widget.control.ready.is_set():
            publish_time_point(publisher, t)
            t += 1
        return False

    wait_until(fed, what=what)
    return t


def test_live_layers_per_channel_at_physical_scale_with_qc_and_screenshot(
    widget: LiveWidget, viewer: Any, tmp_path: Path
) -> None:
    address = free_loopback_address()
    publisher = WirePublisher(address)
    try:
        widget.connect_to(address)
        feed_until(publisher, widget, lambda: len(viewer.layers) == 6, "six live layers")
        names = sorted(layer.name for layer in viewer.layers)
        assert names == sorted(
            f"{kind} {channel}" for kind in ("raw", "SR", "confidence") for channel in CHANNELS
        )
        sr, raw, qc = (viewer.layers[f"{k} actin"] for k in ("SR", "raw", "confidence"))
        np.testing.assert_allclose(sr.scale, [SR_NM / 1000] * 2)
        np.testing.assert_allclose(raw.scale, [RAW_NM / 1000] * 2)
        for layer in (raw, sr):  # the scale bar reads micrometres
            assert layer.axis_labels == ("y", "x")
            assert [str(u) for u in layer.units] == ["micrometer", "micrometer"]
        # Pixel corners at the origin: a 64 px raw and its 128 px SR cover the same 6.4 um.
        for layer in (raw, sr):  # extent.world spans the first and last pixels' centres
            corners = layer.extent.world + np.array([-1, 1])[:, None] * layer.scale / 2
            np.testing.assert_allclose(corners, [[0.0, 0.0], [6.4, 6.4]], atol=1e-9)
        np.testing.assert_allclose(sr.colormap.colors[-1], [0.0, 1.0, 1.0, 1.0])
        assert sr.visible and not raw.visible and not qc.visible
        assert qc.contrast_limits == [-5.0, 5.0]
        low, high = sr.contrast_limits
        assert 150 < low < high < 1850
        wait_until(lambda: "consistency_rms 1.25" in widget.figures.text(), what="QC figures")
        assert "outlier_fraction 0.024" in widget.figures.text()
        assert "flagged no" in widget.figures.text()
        assert " n " not in widget.figures.text()  # a list is not a figure

        widget.raw_box.setChecked(True)
        widget.grid_box.setChecked(True)
        shown = widget.layers.frames["SR actin"]
        feed_until(
            publisher, widget, lambda: widget.layers.frames["SR actin"] > shown + 2, "new frames"
        )
        viewer.reset_view()
        screenshot = viewer.screenshot(canvas_only=False, flash=False)
    finally:
        publisher.close()
    target = Path(os.environ.get("TCAN_LIVE_SCREENSHOT_DIR", tmp_path)) / "napari-live.png"
    imwrite(target, screenshot)
    canvas = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(float)
    assert canvas.std() > 10  # not blank
    magenta = (canvas[..., 0] > 100) & (canvas[..., 2] > 100) & (canvas[..., 1] < 60)
    cyan = (canvas[..., 1] > 100) & (canvas[..., 2] > 100) & (canvas[..., 0] < 60)
    assert magenta.mean() > 0.01 and cyan.mean() > 0.01  # both channels' colours are drawn


def test_newest_preview_wins_while_the_viewer_is_busy() -> None:
    address = free_loopback_address()
    control = ReceiverControl()
    batches: list[list[Preview]] = []
    with PreviewPublisher(PreviewConfig(address=address, max_fps=1000)) as publisher:
        receiver = receive_previews(address, control)

        def run() -> None:
            for batch in receiver:
                batches.append(batch)

        thread = threading.Thread(target=run)
        thread.start()
        try:
            image = np.zeros((16, 16), np.uint16)
            for attempt in range(500):  # until the subscription has reached the publisher
                publisher.publish(image, kind="sr", t=attempt, channel="actin", pixel_size_nm=50.0)
                if control.stop.wait(0.01) or batches:
                    break
            assert batches, "no preview arrived"
            # The viewer is busy (has not shown the batch): previews pile up in the receiver.
            for t in range(1000, 1010):
                publisher.publish(image, kind="sr", t=t, channel="actin", pixel_size_nm=50.0)
                assert not control.stop.wait(0.02)  # paced like frames, lets each one go out
            assert len(batches) == 1
            control.ready.set()  # the viewer is free again
            for _ in range(500):
                if len(batches) == 2 or control.stop.wait(0.01):
                    break
        finally:
            control.stop.set()
            thread.join(timeout=10)
    assert [preview.t for preview in batches[1]] == [1009]
    assert control.merged >= 9


def _pace(control: ReceiverControl, draw_cpu_s: float, cycles: int) -> None:
    """Receive ``cycles`` batches from a publisher, each "drawn" by burning ``draw_cpu_s`` CPU."""
    address = free_loopback_address()
    shown = 0
    with PreviewPublisher(PreviewConfig(address=address, max_fps=1000)) as publisher:
        receiver = receive_previews(address, control)

        def view() -> None:
            nonlocal shown
            for _ in receiver:
                start = time.process_time()
                while time.process_time() - start < draw_cpu_s:
                    pass
                shown += 1
                control.ready.set()
                if shown == cycles:
                    control.stop.set()

        thread = threading.Thread(target=view)
        thread.start()
        try:
            image = np.zeros((16, 16), np.uint16)
            for t in range(100_000):  # frames keep coming until the viewer has shown enough
                publisher.publish(image, kind="sr", t=t, channel="actin", pixel_size_nm=50.0)
                if control.stop.wait(0.01):
                    break
        finally:
            control.stop.set()
            thread.join(timeout=30)
    assert shown == cycles


def test_an_expensive_display_is_spaced_out_to_its_cpu_budget() -> None:
    # The same 100 ms draws against 1 % of the machine (far over: the wait grows toward the
    # 2 s floor) and against the whole machine (0.1 CPU s over all its cores: well under).
    costly = ReceiverControl(max_rate_hz=50.0, cpu_budget=0.01)
    _pace(costly, draw_cpu_s=0.1, cycles=3)
    assert costly.wait_s > 0.5
    roomy = ReceiverControl(max_rate_hz=50.0, cpu_budget=1.0)
    _pace(roomy, draw_cpu_s=0.1, cycles=3)
    assert roomy.interval_s > 0 and roomy.wait_s < 0.2


def test_reconnects_when_the_daemon_restarts(widget: LiveWidget, viewer: Any) -> None:
    address = free_loopback_address()
    with PreviewPublisher(PreviewConfig(address=address, max_fps=1000)) as publisher:
        widget.connect_to(address)
        feed_until(publisher, widget, lambda: "SR actin" in viewer.layers, "first daemon")
    before = widget.layers.frames["SR actin"]
    with PreviewPublisher(PreviewConfig(address=address, max_fps=1000)) as restarted:
        feed_until(
            restarted, widget, lambda: widget.layers.frames["SR actin"] > before, "restarted"
        )
    assert widget.connected


def test_curve_encrypted_previews(widget: LiveWidget, viewer: Any, tmp_path: Path) -> None:
    public, secret = zmq.auth.create_certificates(tmp_path, "server")
    address = free_loopback_address()
    config = PreviewConfig(address=address, max_fps=1000, curve_secret_key_file=Path(secret))
    with PreviewPublisher(config) as publisher:
        widget.server_key.setText(str(public))
        widget.connect_to(address)
        feed_until(publisher, widget, lambda: "SR actin" in viewer.layers, "CURVE previews")


def preview(kind: str, t: int, channel: str = "actin") -> Preview:
    raw, sr, z = frames(t, channel)
    image, pixel = {"raw": (raw, RAW_NM), "sr": (sr, SR_NM), "qc": (z, RAW_NM)}[kind]
    header = {"kind": kind, "t": t, "channel": channel, "seq": t, "pixel_size_nm": pixel}
    return Preview(topic=f"{kind}/{channel}", header=header | {"color": "00FFFF"}, image=image)


def test_a_hidden_layer_is_drawn_only_when_shown_and_then_with_its_newest_preview(
    viewer: Any,
) -> None:
    from tcan_live.napari.live_layers import LiveLayers

    layers = LiveLayers(viewer)
    for t in range(3):
        for kind in ("raw", "sr", "qc"):
            layers.show(preview(kind, t))
    raw, sr = viewer.layers["raw actin"], viewer.layers["SR actin"]
    np.testing.assert_array_equal(sr.data, preview("sr", 2).image)  # visible: every preview
    np.testing.assert_array_equal(raw.data, preview("raw", 0).image)  # hidden: not redrawn
    assert set(layers.held) == {"raw actin", "confidence actin"}
    assert layers.frames["raw actin"] == 3 and layers.seqs["raw actin"] == [0, 1, 2]

    raw.visible = True  # the user ticks the eye (or "Show raw")
    np.testing.assert_array_equal(raw.data, preview("raw", 2).image)
    assert set(layers.held) == {"confidence actin"}
    layers.show(preview("raw", 3))
    np.testing.assert_array_equal(raw.data, preview("raw", 3).image)
    low, high = raw.contrast_limits
    assert 150 < low < high < 1850


def test_a_layer_follows_its_previews_pixel_size_and_shows_the_latest_flag(viewer: Any) -> None:
    """Micrometres while the daemon states a pixel size, pixels when it stops; no stale flag."""
    from tcan_live.napari.live_layers import LiveLayers

    layers = LiveLayers(viewer)
    flagged = preview("sr", 0)
    flagged.header["qc"] = {"flagged": True, "flag": "z rms 3.2 > 2"}
    layers.show(flagged)
    sr = viewer.layers["SR actin"]
    assert [str(u) for u in sr.units] == ["micrometer", "micrometer"]
    assert "flag z rms 3.2 > 2" in layers.figures_text()
    unstated = preview("sr", 1)
    del unstated.header["pixel_size_nm"]
    unstated.header["qc"] = {"flagged": False, "flag": ""}
    layers.show(unstated)
    assert [str(u) for u in sr.units] == ["pixel", "pixel"]
    np.testing.assert_allclose(sr.scale, [1.0, 1.0])
    assert layers.figures_text() == "actin: flagged no"
