"""Publishes live previews over ZeroMQ without ever making the pipeline wait.

``publish`` only drops a reference into a one-slot-per-topic mailbox (latest wins) and returns;
a dedicated thread downsamples, encodes and sends with ``NOBLOCK`` at most ``max_fps`` times a
second. A PUB socket drops messages for subscribers that are beyond their high-water mark, so
a subscriber that stops reading costs the pipeline nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from tcan_live.preview.config import PreviewConfig, check_bind_address, is_loopback_address
from tcan_live.preview.imaging import downsample_area, make_composite
from tcan_live.preview.protocol import encode, topic_for

log = logging.getLogger(__name__)
# Inbound messages to a PUB socket are only subscriptions: refuse anything bigger.
_MAX_INBOUND_BYTES = 65536


@dataclass
class _Request:
    """What ``publish`` leaves in the mailbox; the heavy work happens on the sender thread."""

    kind: str
    channel: str
    images: tuple[np.ndarray, ...]
    colors: tuple[str, ...]
    header: dict[str, Any]
    queued_at: float = field(default_factory=time.monotonic)

    @property
    def topic(self) -> str:
        return topic_for(self.kind, self.channel, str(self.header.get("image", "")))


@dataclass
class PublisherStats:
    """Counters of a publisher (read from any thread; approximate while running)."""

    published: int = 0  # calls to publish/publish_composite
    sent: int = 0  # messages handed to ZeroMQ
    replaced: int = 0  # previews overwritten in the mailbox before sending (latest wins)
    send_dropped: int = 0  # sends refused by ZeroMQ (would have blocked)
    errors: int = 0  # previews that could not be encoded
    last_error: str | None = None


class PreviewPublisher:
    """ZeroMQ PUB socket that publishes raw, super-resolved and composite previews.

    Parameters
    ----------
    config
        Address, rate, size and security settings.
    context
        ZeroMQ context to use (a private one by default).

    Examples
    --------
    >>> with PreviewPublisher(PreviewConfig()) as publisher:  # doctest: +SKIP
    ...     publisher.publish(sr_image, kind="sr", t=0, channel="actin", pixel_size_nm=50.0)
    """

    def __init__(self, config: PreviewConfig, context: zmq.Context[Any] | None = None) -> None:
        check_bind_address(config.address, config.allow_remote)
        self.config = config
        self.stats = PublisherStats()
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._authenticator: ThreadAuthenticator | None = None
        self._socket = self._bind()
        endpoint = self._socket.getsockopt(zmq.LAST_ENDPOINT)
        self.endpoint: str = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
        self._mailbox: dict[str, _Request] = {}
        self._condition = threading.Condition()
        self._closing = False
        self._seq = 0
        self._last_send = 0.0
        self._thread = threading.Thread(target=self._run, name="preview-publisher", daemon=True)
        self._thread.start()

    def _bind(self) -> zmq.Socket[Any]:
        socket = self._context.socket(zmq.PUB)
        socket.setsockopt(zmq.SNDHWM, self.config.send_hwm)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, _MAX_INBOUND_BYTES)
        if self.config.curve_secret_key_file is not None:
            self._enable_curve(socket, self.config)
        elif not is_loopback_address(self.config.address):
            log.warning(
                "preview publisher on %s without CURVE keys: previews travel unencrypted",
                self.config.address,
            )
        try:
            socket.bind(self.config.address)
        except zmq.ZMQError as error:
            socket.close(linger=0)
            raise OSError(
                f"preview.address {self.config.address!r}: cannot bind ({error})"
            ) from None
        return socket

    def _enable_curve(self, socket: zmq.Socket[Any], config: PreviewConfig) -> None:
        if not zmq.has("curve"):
            raise RuntimeError("preview.curve_secret_key_file: this libzmq has no CURVE support")
        key_file = config.curve_secret_key_file
        assert key_file is not None
        try:
            public, secret = zmq.auth.load_certificate(key_file)
        except (OSError, ValueError) as error:
            raise ValueError(f"preview.curve_secret_key_file {key_file}: {error}") from None
        if not secret:
            raise ValueError(
                f"preview.curve_secret_key_file {key_file}: no secret key in it (expected the "
                "'.key_secret' certificate written by zmq.auth.create_certificates)"
            )
        if config.curve_authorized_keys_dir is not None:
            self._authenticator = ThreadAuthenticator(self._context)
            self._authenticator.start()
            self._authenticator.configure_curve(
                domain="*", location=str(config.curve_authorized_keys_dir)
            )
        socket.curve_secretkey = secret
        socket.curve_publickey = public
        socket.curve_server = True

    # -- the pipeline side: never blocks -------------------------------------------------

    def publish(
        self,
        image: np.ndarray,
        *,
        kind: str,
        t: int,
        channel: str,
        pixel_size_nm: float | None,
        latency_ms: float | None = None,
        qc: Mapping[str, Any] | None = None,
        color: str | None = None,
        timestamp: float | None = None,
        index: Mapping[str, Any] | None = None,
    ) -> None:
        """Offer one frame's preview; returns at once (the array must not be modified later).

        Parameters
        ----------
        image
            2D frame (raw or super-resolved), or a consistency map (float32).
        kind
            ``"raw"``, ``"sr"``, ``"mip"`` or ``"qc"``.
        t, channel
            Where the frame belongs in the acquisition.
        pixel_size_nm
            Pixel size of ``image``; the header carries the downsampled preview's.
        latency_ms
            Acquisition-to-result latency of the frame, if known.
        qc
            Live QC figures (e.g. input/output mean intensity, a resolution estimate).
        color
            Display colour ``RRGGBB`` of the channel.
        timestamp
            Acquisition time of the frame (seconds since the epoch), if known.
        index
            Where else the frame belongs: ``image`` (the topic suffix), ``p``, ``z``, ``g``,
            ``run``, ``position`` (name); copied into the header.
        """
        if kind not in ("raw", "sr", "mip", "qc"):
            raise ValueError(f"preview kind {kind!r}: expected 'raw', 'sr', 'mip' or 'qc'")
        header: dict[str, Any] = {
            **dict(index or {}),
            "t": t,
            "pixel_size_nm": pixel_size_nm,
            "latency_ms": latency_ms,
            "qc": dict(qc or {}),
            "color": color,
            "timestamp": timestamp,
        }
        self._offer(_Request(kind, channel, (image,), (color or "FFFFFF",), header))

    def publish_composite(
        self,
        images: Mapping[str, np.ndarray],
        colors: Mapping[str, str],
        *,
        t: int,
        pixel_size_nm: float | None,
        latency_ms: float | None = None,
        qc: Mapping[str, Any] | None = None,
        timestamp: float | None = None,
        index: Mapping[str, Any] | None = None,
    ) -> None:
        """Offer a dual-colour (or multi-colour) RGB composite of one time point's channels.

        ``images`` maps channel names to 2D frames of one shape, ``colors`` the same names to
        ``RRGGBB`` colours; the other arguments are as for :meth:`publish`.
        """
        names = tuple(images)
        header: dict[str, Any] = {
            **dict(index or {}),
            "t": t,
            "pixel_size_nm": pixel_size_nm,
            "latency_ms": latency_ms,
            "qc": dict(qc or {}),
            "timestamp": timestamp,
            "channels": list(names),
            "colors": [colors[name] for name in names],
        }
        self._offer(
            _Request(
                "composite",
                "+".join(names),
                tuple(images[name] for name in names),
                tuple(colors[name] for name in names),
                header,
            )
        )

    def _offer(self, request: _Request) -> None:
        topic = request.topic
        with self._condition:
            self.stats.published += 1
            if self._closing:
                return
            if topic in self._mailbox:
                self.stats.replaced += 1
            self._mailbox[topic] = request
            self._condition.notify()

    # -- the sender thread ---------------------------------------------------------------

    def _next_request(self) -> _Request | None:
        interval = 1.0 / self.config.max_fps
        with self._condition:
            while not self._closing:
                wait = self._last_send + interval - time.monotonic()
                if self._mailbox and wait <= 0:
                    # The topic waiting longest goes first; replaced previews keep its place.
                    return self._mailbox.pop(next(iter(self._mailbox)))
                self._condition.wait(timeout=wait if self._mailbox else None)
            return None

    def _run(self) -> None:
        while True:
            request = self._next_request()
            if request is None:
                return
            self._last_send = time.monotonic()
            try:
                parts = self._encode(request)
            except Exception as error:  # one bad preview must never stop the sender thread
                self.stats.errors += 1
                self.stats.last_error = str(error)
                log.warning("preview %s/%s not sent: %s", request.kind, request.channel, error)
                continue
            try:
                self._socket.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
                self.stats.sent += 1
            except zmq.Again:
                self.stats.send_dropped += 1
            except zmq.ZMQError as error:  # socket closed under us while shutting down
                if not self._closing:
                    self.stats.errors += 1
                    self.stats.last_error = str(error)

    def _encode(self, request: _Request) -> list[bytes]:
        queued_ms = (time.monotonic() - request.queued_at) * 1000.0
        if request.kind == "composite":
            image = make_composite(request.images, request.colors)
        else:
            image = np.asarray(request.images[0])
            if image.ndim != 2:
                raise ValueError(f"preview image: {image.ndim}D, expected 2D")
            if image.dtype.name not in ("uint8", "uint16", "float32"):
                image = image.astype(np.float32)
        image, factor = downsample_area(image, self.config.max_size)
        header = dict(request.header)
        pixel_size = header.get("pixel_size_nm")
        header["pixel_size_nm"] = None if pixel_size is None else float(pixel_size) * factor
        header.update(
            kind=request.kind,
            channel=request.channel,
            seq=self._seq,
            downsample=factor,
            sent_at=time.time(),
            queued_ms=queued_ms,
            dropped=self.stats.replaced + self.stats.send_dropped,
        )
        self._seq += 1
        return encode(header, image)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the sender thread and close the socket at once (LINGER 0); idempotent."""
        with self._condition:
            if self._closing:
                return
            self._closing = True
            self._mailbox.clear()
            self._condition.notify_all()
        self._thread.join()
        self._socket.close(linger=0)
        if self._authenticator is not None:
            self._authenticator.stop()
        if self._own_context:
            self._context.term()

    def __enter__(self) -> PreviewPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
