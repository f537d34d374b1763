"""The ``[preview]`` section of a daemon configuration and the bind-address policy."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import Field, model_validator

from tcan_live.core.settings import ConfigPath, FrozenModel

DEFAULT_ADDRESS = "tcp://127.0.0.1:5556"
_TCP = re.compile(r"^tcp://(?P<host>\[[^\]]*\]|[^:/]*):(?P<port>\d{1,5}|\*)$")


def is_loopback_address(address: str) -> bool:
    """Return True when binding ``address`` exposes nothing beyond this machine.

    ``ipc://`` and ``inproc://`` are local by nature; ``tcp://`` is local only on a loopback
    interface (127.0.0.0/8, ::1 or ``localhost``). Raises ``ValueError`` for an address that
    is not a ZeroMQ endpoint of these forms.
    """
    if address.startswith(("ipc://", "inproc://")):
        return True
    match = _TCP.match(address)
    if match is None:
        raise ValueError(
            f"preview address {address!r}: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"
        )
    if match["port"] != "*" and not 0 < int(match["port"]) < 65536:
        raise ValueError(f"preview address {address!r}: port must be 1-65535 or *")
    host = match["host"].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name or a host name: reachable from outside


def check_bind_address(address: str, allow_remote: bool) -> None:
    """Refuse a non-loopback bind unless ``allow_remote`` says so explicitly.

    An ``ipc://`` path that exists and is not a socket is refused too: ZeroMQ would replace
    the file with its socket.
    """
    if address.startswith("ipc://"):
        path = Path(address.removeprefix("ipc://"))
        if (path.exists() or path.is_symlink()) and not path.is_socket():
            raise ValueError(
                f"preview.address {address!r}: {path} exists and is not a socket; binding "
                "would replace it: choose a path that does not exist"
            )
    if not is_loopback_address(address) and not allow_remote:
        raise ValueError(
            f"preview.address {address!r} would accept connections from other machines; "
            "bind 127.0.0.1, or set preview.allow_remote = true (with CURVE keys, "
            "preview.curve_secret_key_file) to allow it"
        )


class PreviewConfig(FrozenModel):
    """How live previews are published.

    Attributes
    ----------
    enabled
        Publish previews at all.
    address
        ZeroMQ endpoint to bind; loopback unless ``allow_remote``.
    allow_remote
        Allow a wildcard or non-loopback bind.
    max_fps
        Most previews sent per second, all topics together (latest wins in between).
    max_size
        Longest side of a preview in pixels; larger frames are area-averaged down.
    send_hwm
        ZeroMQ send high-water mark per subscriber: a slow subscriber loses previews beyond it.
    curve_secret_key_file
        The server's ZeroMQ certificate with its secret key (``zmq.auth.create_certificates``,
        the ``.key_secret`` file). Enables CURVE encryption: subscribers need the public key.
    curve_authorized_keys_dir
        A folder of client public-key certificates; when set, only those clients may subscribe.
    z_projection
        Also publish each z-stack's running maximum projection per time point (``mip/...``).
    """

    enabled: bool = True
    address: str = DEFAULT_ADDRESS
    allow_remote: bool = False
    max_fps: float = Field(10.0, gt=0.0, le=1000.0)
    max_size: int = Field(512, ge=16, le=16384)
    send_hwm: int = Field(2, ge=1, le=1000)
    curve_secret_key_file: ConfigPath | None = None
    curve_authorized_keys_dir: ConfigPath | None = None
    z_projection: bool = False

    @model_validator(mode="after")
    def _address_allowed(self) -> PreviewConfig:
        check_bind_address(self.address, self.allow_remote)
        if self.curve_authorized_keys_dir is not None and self.curve_secret_key_file is None:
            raise ValueError(
                "preview.curve_authorized_keys_dir needs preview.curve_secret_key_file too"
            )
        return self
