"""The preview wire format: multipart ZeroMQ message [topic, JSON header, pixel bytes].

Topic: ``"<kind>/<channel>"`` in UTF-8 (``sr/microtubules``, ``raw/actin``,
``composite/microtubules+actin``, ``mip/actin``), so a subscriber filters by prefix
(``"sr/"``); frames of any image but the first (another stage position, grid tile or run) add
``"/<image>"`` (``sr/actin/p1``, ``sr/actin/p0g3``, ``sr/actin/p2r1``).
Header: a UTF-8 JSON object whose ``version`` is :data:`PROTOCOL_VERSION`; fields in
docs/outputs.md. Pixels: the image in C order, little-endian, ``shape`` and ``dtype`` as in
the header. Decoding checks every field, so malformed or hostile messages are refused with a
one-line :class:`ProtocolError` instead of reaching numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tcan_live.core.acquisition import ImageKey
from tcan_live.core.json_safe import dumps

PROTOCOL_VERSION = 1
KINDS = ("raw", "sr", "composite", "mip", "qc")
WIRE_DTYPES = ("uint8", "uint16", "float32")
MAX_HEADER_BYTES = 65536
MAX_SIDE = 16384


class ProtocolError(ValueError):
    """A message that is not a valid version-1 preview."""


@dataclass(frozen=True)
class Preview:
    """One decoded preview: its topic, header fields and pixels (read-only array)."""

    topic: str
    header: dict[str, Any]
    image: np.ndarray

    @property
    def kind(self) -> str:
        """``raw``, ``sr``, ``composite``, ``mip`` or ``qc``."""
        return str(self.header["kind"])

    @property
    def channel(self) -> str:
        """Channel name (``a+b`` for a composite)."""
        return str(self.header["channel"])

    @property
    def t(self) -> int:
        """Time index of the frame."""
        return int(self.header["t"])


def image_label(key: ImageKey) -> str:
    """Return the topic suffix of an image: empty for the first (position 0, tile 0, run 0)."""
    if key == ImageKey():
        return ""
    return f"p{key.p}" + (f"g{key.g}" if key.g else "") + (f"r{key.run}" if key.run else "")


def topic_for(kind: str, channel: str, image: str = "") -> str:
    """Return the topic of a preview of ``kind`` for ``channel`` of ``image`` (a label)."""
    return f"{kind}/{channel}" + (f"/{image}" if image else "")


def encode(header: dict[str, Any], image: np.ndarray) -> list[bytes]:
    """Return the three message parts for ``image`` with the given header fields.

    ``version``, ``shape`` and ``dtype`` are filled in from the image; ``header`` must carry
    ``kind`` and ``channel``.
    """
    wire = np.ascontiguousarray(image, dtype=image.dtype.newbyteorder("<"))
    if wire.dtype.name not in WIRE_DTYPES:
        raise ProtocolError(f"preview dtype {wire.dtype.name}: expected one of {WIRE_DTYPES}")
    full = {
        "version": PROTOCOL_VERSION,
        **header,
        "shape": list(wire.shape),
        "dtype": wire.dtype.name,
    }
    topic = topic_for(str(full["kind"]), str(full["channel"]), str(full.get("image", "")))
    return [topic.encode(), dumps(full).encode(), wire.tobytes()]


def _field(header: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = header.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProtocolError(f"preview header field {name!r}: got {value!r}, expected {kind}")
    return value


def _check_shape(header: dict[str, Any]) -> tuple[int, ...]:
    shape = _field(header, "shape", list)
    expected_ndim = 3 if header["kind"] == "composite" else 2
    if (
        len(shape) != expected_ndim
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape)
        or not all(0 < n <= MAX_SIDE for n in shape[:2])
        or (expected_ndim == 3 and shape[2] != 3)
    ):
        raise ProtocolError(
            f"preview header field 'shape': got {shape!r}, expected "
            + ("[height, width, 3]" if expected_ndim == 3 else "[height, width]")
        )
    return tuple(shape)


def decode(parts: list[bytes]) -> Preview:
    """Decode and validate one multipart message; raise :class:`ProtocolError` if invalid."""
    if len(parts) != 3:
        raise ProtocolError(f"preview message: {len(parts)} parts, expected 3")
    topic_bytes, header_bytes, pixels = parts
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ProtocolError(f"preview header: {len(header_bytes)} bytes, over {MAX_HEADER_BYTES}")
    try:
        topic = topic_bytes.decode()
        header = json.loads(header_bytes)
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"preview topic/header is not UTF-8 JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("preview header: expected a JSON object")
    if header.get("version") != PROTOCOL_VERSION:
        raise ProtocolError(
            f"preview header field 'version': got {header.get('version')!r}, "
            f"expected {PROTOCOL_VERSION}"
        )
    if header.get("kind") not in KINDS:
        raise ProtocolError(f"preview header field 'kind': got {header.get('kind')!r}")
    channel = _field(header, "channel", str)
    _field(header, "t", int)
    _field(header, "seq", int)
    image_name = header.get("image", "")
    if not isinstance(image_name, str) or topic != topic_for(header["kind"], channel, image_name):
        raise ProtocolError(f"preview topic {topic!r} does not match its header")
    pixel_size = header.get("pixel_size_nm")
    if pixel_size is not None and not (
        isinstance(pixel_size, (int, float)) and math.isfinite(pixel_size) and pixel_size > 0
    ):
        raise ProtocolError(f"preview header field 'pixel_size_nm': got {pixel_size!r}")
    if not isinstance(header.get("qc", {}), dict):
        raise ProtocolError("preview header field 'qc': expected a JSON object")
    dtype_name = header.get("dtype")
    if dtype_name not in WIRE_DTYPES or (header["kind"] == "composite") != (dtype_name == "uint8"):
        raise ProtocolError(f"preview header field 'dtype': got {dtype_name!r}")
    shape = _check_shape(header)
    dtype = np.dtype(str(dtype_name)).newbyteorder("<")
    expected = math.prod(shape) * dtype.itemsize
    if len(pixels) != expected:
        raise ProtocolError(f"preview pixels: {len(pixels)} bytes, expected {expected}")
    image = np.frombuffer(pixels, dtype=dtype).reshape(shape)
    return Preview(topic=topic, header=header, image=image)
