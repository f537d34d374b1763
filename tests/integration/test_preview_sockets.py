"""Preview publisher and subscriber over real ZeroMQ sockets on 127.0.0.1.

ZeroMQ's PUB drops messages until a subscription has arrived (slow joiner), so tests publish
repeatedly until a preview is received, bounded in count and time; no sleeps.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.auth

from tcan_live.preview.config import PreviewConfig
from tcan_live.preview.protocol import Preview, encode
from tcan_live.preview.publisher import PreviewPublisher
from tcan_live.preview.subscriber import PreviewSubscriber

ATTEMPTS = 300
POLL_S = 0.02


@pytest.fixture
def publisher() -> Iterator[PreviewPublisher]:
    with PreviewPublisher(PreviewConfig(address="tcp://127.0.0.1:*", max_fps=1000)) as pub:
        yield pub


def frame(seed: int = 0, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4096, size=shape, dtype=np.uint16)


def offer(publisher: PreviewPublisher, t: int = 0, image: np.ndarray | None = None) -> None:
    publisher.publish(
        frame(t) if image is None else image,
        kind="sr",
        t=t,
        channel="actin",
        pixel_size_nm=50.0,
        latency_ms=12.5,
        qc={"input_mean": 1.5, "resolution_nm": None},
        color="00FFFF",
        timestamp=1_700_000_000.5,
    )


def until_received(
    subscriber: PreviewSubscriber, send: Callable[[int], None], attempts: int = ATTEMPTS
) -> Preview | None:
    """Call ``send(i)`` and poll, until a preview arrives or the bounded attempts run out."""
    for attempt in range(attempts):
        send(attempt)
        preview = subscriber.receive(POLL_S)
        if preview is not None:
            return preview
    return None


def test_subscriber_receives_header_and_pixels(publisher: PreviewPublisher) -> None:
    with PreviewSubscriber(publisher.endpoint, topics=["sr/"]) as subscriber:
        image = frame(1)
        preview = until_received(subscriber, lambda t: offer(publisher, t, image))
    assert preview is not None
    assert preview.topic == "sr/actin"
    header = preview.header
    assert header["version"] == 1
    assert (header["kind"], header["channel"], header["color"]) == ("sr", "actin", "00FFFF")
    assert header["shape"] == [40, 50] and header["dtype"] == "uint16"
    assert header["pixel_size_nm"] == 50.0 and header["downsample"] == 1
    assert header["latency_ms"] == 12.5 and header["timestamp"] == 1_700_000_000.5
    assert header["qc"] == {"input_mean": 1.5, "resolution_nm": None}
    assert isinstance(header["seq"], int) and isinstance(header["sent_at"], float)
    np.testing.assert_array_equal(preview.image, image)


def test_downsampled_preview_keeps_pixel_size_consistent() -> None:
    config = PreviewConfig(address="tcp://127.0.0.1:*", max_fps=1000, max_size=32)
    image = np.arange(128 * 96, dtype=np.float32).reshape(128, 96)
    with (
        PreviewPublisher(config) as publisher,
        PreviewSubscriber(publisher.endpoint) as subscriber,
    ):
        preview = until_received(subscriber, lambda t: offer(publisher, t, image))
    assert preview is not None
    assert preview.header["downsample"] == 4 and preview.image.shape == (32, 24)
    assert preview.header["pixel_size_nm"] == 200.0
    assert preview.image[0, 0] == pytest.approx(image[:4, :4].mean())


def test_dual_colour_composite(publisher: PreviewPublisher) -> None:
    microtubules = np.zeros((16, 16), np.uint16)
    microtubules[:, :8] = 1000
    actin = (1000 - microtubules).astype(np.uint16)
    with PreviewSubscriber(publisher.endpoint, topics=["composite/"]) as subscriber:
        preview = until_received(
            subscriber,
            lambda t: publisher.publish_composite(
                {"microtubules": microtubules, "actin": actin},
                {"microtubules": "FF00FF", "actin": "00FFFF"},
                t=t,
                pixel_size_nm=50.0,
            ),
        )
    assert preview is not None
    assert preview.topic == "composite/microtubules+actin"
    assert preview.header["channels"] == ["microtubules", "actin"]
    assert preview.image.dtype == np.uint8 and preview.image.shape == (16, 16, 3)
    assert tuple(preview.image[0, 0]) == (255, 0, 255)
    assert tuple(preview.image[0, 15]) == (0, 255, 255)


def test_wildcard_bind_refused_without_explicit_config() -> None:
    config = PreviewConfig.model_construct(address="tcp://*:5556", allow_remote=False)
    with pytest.raises(ValueError, match="allow_remote = true"):
        PreviewPublisher(config)


def test_stalled_subscriber_does_not_slow_the_publisher() -> None:
    """Quantified: time spent in publish calls with and without a subscriber that never reads."""
    config = PreviewConfig(address="tcp://127.0.0.1:*", max_fps=1000, max_size=256)
    image = np.random.default_rng(3).random((256, 256), dtype=np.float32)  # 256 KiB each
    rounds = 200

    def run(stalled: zmq.Socket[bytes] | None) -> tuple[float, int, PreviewPublisher]:
        """Publish and let a live subscriber read, ``rounds`` times; time the publish calls."""
        in_publish = 0.0
        with PreviewPublisher(config) as publisher:
            if stalled is not None:
                stalled.connect(publisher.endpoint)
            with PreviewSubscriber(publisher.endpoint) as reader:
                assert until_received(reader, lambda t: offer(publisher, t, image)) is not None
                received = 0
                for t in range(rounds):
                    start = time.perf_counter()
                    offer(publisher, t, image)
                    in_publish += time.perf_counter() - start
                    received += reader.receive(POLL_S) is not None
                for t in range(rounds):  # bursts: the mailbox keeps only the latest
                    offer(publisher, t, image)
        return in_publish, received, publisher

    alone, received_alone, _ = run(None)
    context = zmq.Context()
    stalled = context.socket(zmq.SUB)
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.RCVBUF, 4096)
    stalled.setsockopt(zmq.LINGER, 0)
    stalled.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        with_stalled, received, publisher = run(stalled)
    finally:
        stalled.close(linger=0)
        context.term()
    print(
        f"\n{rounds} publish calls of 256x256 float32: {alone * 1e3:.2f} ms alone, "
        f"{with_stalled * 1e3:.2f} ms with a stalled subscriber (ratio "
        f"{with_stalled / alone:.2f}); live subscriber received {received_alone} / {received} "
        f"previews; {publisher.stats.sent} sent, {publisher.stats.replaced} replaced"
    )
    # Non-blocking behaviour, not timing: every call returned, the mailbox dropped previews
    # (latest wins), and the live subscriber kept receiving far more data than the stalled
    # one's queues (1 message, 4 KiB socket buffer) can hold.
    assert publisher.stats.replaced > 0
    assert received * image.nbytes > 10 * 1024 * 1024


def test_subscriber_disconnects_and_reconnects(publisher: PreviewPublisher) -> None:
    with PreviewSubscriber(publisher.endpoint) as first:
        assert until_received(first, lambda t: offer(publisher, t)) is not None
    with PreviewSubscriber(publisher.endpoint) as second:
        assert until_received(second, lambda t: offer(publisher, t)) is not None
    assert publisher.stats.errors == 0


def test_subscriber_survives_a_publisher_restart() -> None:
    config = PreviewConfig(address="tcp://127.0.0.1:*", max_fps=1000)
    with PreviewPublisher(config) as first:
        address = first.endpoint
        subscriber = PreviewSubscriber(address)
        assert until_received(subscriber, lambda t: offer(first, t)) is not None
    try:
        restarted = PreviewConfig(address=address, max_fps=1000)
        with PreviewPublisher(restarted) as second:
            preview = until_received(subscriber, lambda t: offer(second, 100 + t))
        assert preview is not None and preview.t >= 100
    finally:
        subscriber.close()


def test_garbage_sent_to_the_publisher_is_harmless(publisher: PreviewPublisher) -> None:
    host, port = publisher.endpoint.removeprefix("tcp://").rsplit(":", 1)
    junk = np.random.default_rng(5).integers(0, 256, size=200_000, dtype=np.uint8).tobytes()
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw_peer,
        contextlib.suppress(BrokenPipeError, ConnectionResetError),
    ):
        raw_peer.sendall(junk)  # the publisher may hang up on the junk: what we want
    context = zmq.Context()
    xsub = context.socket(zmq.XSUB)  # may send arbitrary frames to a PUB
    dealer = context.socket(zmq.DEALER)  # wrong socket type: refused in the handshake
    for peer in (xsub, dealer):
        peer.setsockopt(zmq.LINGER, 0)
        peer.connect(publisher.endpoint)
    try:
        xsub.send(b"\x01")  # subscribe to everything, then wait until connected
        for t in range(ATTEMPTS):
            offer(publisher, t)
            if xsub.poll(int(POLL_S * 1000)):
                break
        else:
            pytest.fail("the XSUB peer never connected")
        for _ in range(20):
            xsub.send_multipart([b"\x07garbage", junk[:1000]])
            xsub.send(junk[:200_000])  # over the publisher's inbound size limit
            with contextlib.suppress(zmq.Again):  # never accepted as a peer
                dealer.send_multipart([b"junk", junk[:5000]], flags=zmq.NOBLOCK)
        with PreviewSubscriber(publisher.endpoint) as subscriber:
            preview = until_received(subscriber, lambda t: offer(publisher, t))
    finally:
        xsub.close(linger=0)
        dealer.close(linger=0)
        context.term()
    assert preview is not None
    assert publisher.stats.errors == 0


def test_subscriber_skips_malformed_messages() -> None:
    context = zmq.Context()
    fake = context.socket(zmq.PUB)
    fake.setsockopt(zmq.LINGER, 0)
    port = fake.bind_to_random_port("tcp://127.0.0.1")
    valid = encode({"kind": "raw", "channel": "actin", "t": 1, "seq": 0}, frame(2))
    garbage: list[list[bytes]] = [
        [b"raw/actin"],
        [b"raw/actin", b"{not json", b""],
        [b"raw/actin", b'{"version": 99}', b""],
        [valid[0], valid[1], valid[2][:-2]],
        [b"raw/actin", b"\x00" * 70_000, b""],
    ]
    try:
        with PreviewSubscriber(f"tcp://127.0.0.1:{port}") as subscriber:

            def send(_: int) -> None:
                for message in garbage:
                    fake.send_multipart(message)
                fake.send_multipart(valid)

            preview = until_received(subscriber, send)
            assert preview is not None and preview.t == 1
            assert subscriber.errors >= len(garbage)
            assert subscriber.last_error is not None
    finally:
        fake.close(linger=0)
        context.term()


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    if not zmq.has("curve"):
        pytest.skip("this libzmq was built without CURVE")
    for name in ("server", "client", "stranger"):
        zmq.auth.create_certificates(tmp_path, name)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "client.key").write_bytes((tmp_path / "client.key").read_bytes())
    return tmp_path


def test_curve_subscriber_needs_the_server_key(certificates: Path) -> None:
    config = PreviewConfig(
        address="tcp://127.0.0.1:*",
        max_fps=1000,
        curve_secret_key_file=certificates / "server.key_secret",
    )
    with PreviewPublisher(config) as publisher:
        with PreviewSubscriber(
            publisher.endpoint, server_key=certificates / "server.key"
        ) as trusted:
            assert until_received(trusted, lambda t: offer(publisher, t)) is not None
        with PreviewSubscriber(publisher.endpoint) as plain:
            assert until_received(plain, lambda t: offer(publisher, t), attempts=50) is None
        wrong_key = (certificates / "stranger.key").read_bytes()
        with PreviewSubscriber(publisher.endpoint, server_key=wrong_key.split(b'"')[1]) as wrong:
            assert until_received(wrong, lambda t: offer(publisher, t), attempts=50) is None


def test_curve_authorised_clients_only(certificates: Path) -> None:
    config = PreviewConfig(
        address="tcp://127.0.0.1:*",
        max_fps=1000,
        curve_secret_key_file=certificates / "server.key_secret",
        curve_authorized_keys_dir=certificates / "allowed",
    )
    server_key = certificates / "server.key"
    with PreviewPublisher(config) as publisher:
        with PreviewSubscriber(
            publisher.endpoint,
            server_key=server_key,
            client_key_file=certificates / "client.key_secret",
        ) as allowed:
            assert until_received(allowed, lambda t: offer(publisher, t)) is not None
        with PreviewSubscriber(
            publisher.endpoint,
            server_key=server_key,
            client_key_file=certificates / "stranger.key_secret",
        ) as stranger:
            assert until_received(stranger, lambda t: offer(publisher, t), attempts=50) is None
