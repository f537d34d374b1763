"""Receive live previews in your own code: an iterator of decoded, validated previews."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from tcan_live.preview.config import DEFAULT_ADDRESS
from tcan_live.preview.protocol import Preview, ProtocolError, decode

# A 16384 x 16384 float32 preview is 1 GiB; anything above 256 MiB is not a preview.
_MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def _server_key(value: bytes | str | Path) -> bytes:
    """Return the server's Z85 public key from the key itself or a certificate file."""
    if isinstance(value, bytes) and len(value) == 40:
        return value
    if isinstance(value, str) and len(value) == 40 and not Path(value).exists():
        return value.encode()
    public, _ = zmq.auth.load_certificate(Path(str(value)))
    if not public:
        raise ValueError(f"server key {value!s}: no public key in it")
    return bytes(public)


RECONNECT_MAX_MS = 250


class PreviewSubscriber:
    """Iterate over previews published by :class:`~tcan_live.preview.publisher.PreviewPublisher`.

    Malformed or foreign messages are skipped and counted in ``errors`` (the last reason in
    ``last_error``); the iterator never raises on bad input. ZeroMQ reconnects by itself when
    the publisher restarts.

    Parameters
    ----------
    address
        Publisher endpoint, e.g. ``tcp://127.0.0.1:5556``.
    topics
        Topic prefixes to receive (``"sr/"``, ``"raw/actin"``, ``"composite/"``); all by default.
    timeout
        Seconds without a valid preview after which iteration ends; ``None`` waits forever.
    server_key
        The publisher's CURVE public key (Z85 text or its certificate file) when it uses CURVE.
    client_key_file
        This subscriber's certificate with secret key, for publishers that authorise clients;
        a fresh key pair is generated otherwise.

    Examples
    --------
    >>> with PreviewSubscriber("tcp://127.0.0.1:5556", topics=["sr/"], timeout=5) as sub:
    ...     for preview in sub:  # doctest: +SKIP
    ...         print(preview.t, preview.channel, preview.image.shape)
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        topics: Sequence[str] = ("",),
        timeout: float | None = None,
        *,
        server_key: bytes | str | Path | None = None,
        client_key_file: Path | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.errors = 0
        self.received = 0
        self.last_error: str | None = None
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 4)
        self._socket.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE_BYTES)
        # Retries back off to at most 250 ms: a subscriber started before its daemon (or left
        # running across restarts) sees a new daemon's previews within a quarter second, not
        # after the two seconds a longer back-off reaches while the daemon starts.
        self._socket.setsockopt(zmq.RECONNECT_IVL, 100)
        self._socket.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
        if server_key is not None:
            if client_key_file is not None:
                public, secret = zmq.auth.load_certificate(client_key_file)
                if not secret:
                    raise ValueError(f"client key {client_key_file}: no secret key in it")
            else:
                public, secret = zmq.curve_keypair()
            self._socket.curve_publickey = public
            self._socket.curve_secretkey = secret
            self._socket.curve_serverkey = _server_key(server_key)
        for topic in topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._socket.connect(address)

    def receive(self, timeout: float | None = None) -> Preview | None:
        """Return the next valid preview, or None when ``timeout`` seconds pass without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining_ms = (
                -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            )
            if not self._socket.poll(remaining_ms):
                return None
            try:
                parts = self._socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                continue
            try:
                preview = decode(parts)
            except ProtocolError as error:
                self.errors += 1
                self.last_error = str(error)
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            self.received += 1
            return preview

    def __iter__(self) -> Iterator[Preview]:
        while True:
            preview = self.receive(self.timeout)
            if preview is None:
                return
            yield preview

    def close(self) -> None:
        """Close the socket; idempotent."""
        if not self._socket.closed:
            self._socket.close(linger=0)
            if self._own_context:
                self._context.term()

    def __enter__(self) -> PreviewSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
