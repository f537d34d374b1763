"""The preview wire format, image helpers and bind-address policy (no sockets)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from tcan_live.core.colors import default_color, parse_color
from tcan_live.preview.config import PreviewConfig, is_loopback_address
from tcan_live.preview.imaging import downsample_area, make_composite
from tcan_live.preview.protocol import PROTOCOL_VERSION, ProtocolError, decode, encode


def header(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"kind": "sr", "channel": "actin", "t": 3, "seq": 7, "qc": {}}
    base.update(fields)
    return base


def test_round_trip_keeps_pixels_and_fields() -> None:
    image = np.arange(12, dtype=np.uint16).reshape(3, 4)
    parts = encode(header(pixel_size_nm=50.0), image)
    assert parts[0] == b"sr/actin"
    preview = decode(parts)
    assert preview.header["version"] == PROTOCOL_VERSION
    assert preview.header["shape"] == [3, 4] and preview.header["dtype"] == "uint16"
    assert (preview.kind, preview.channel, preview.t) == ("sr", "actin", 3)
    np.testing.assert_array_equal(preview.image, image)


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([b"sr/actin", b"{}"], "2 parts, expected 3"),
        ([b"sr/actin", b"not json", b""], "not UTF-8 JSON"),
        ([b"sr/actin", b"[1, 2]", b""], "expected a JSON object"),
        ([b"\xff\xfe", b"{}", b""], "not UTF-8 JSON"),
    ],
)
def test_malformed_messages_are_refused(parts: list[bytes], reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode(parts)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": 2}, "'version': got 2"),
        ({"kind": "movie"}, "'kind'"),
        ({"t": "3"}, "'t'"),
        ({"seq": True}, "'seq'"),
        ({"shape": [5, 5]}, "pixels: 24 bytes, expected 50"),
        ({"shape": [-3, -4]}, "'shape'"),
        ({"dtype": "object"}, "'dtype'"),
        ({"pixel_size_nm": -1}, "'pixel_size_nm'"),
        ({"channel": "dapi"}, "does not match its header"),
    ],
)
def test_bad_header_fields_are_refused(change: dict[str, object], reason: str) -> None:
    topic, raw_header, pixels = encode(header(), np.zeros((3, 4), np.uint16))
    fields = json.loads(raw_header)
    fields.update(change)
    parts = [topic, json.dumps(fields).encode(), pixels]
    with pytest.raises(ProtocolError, match=reason):
        decode(parts)


def test_area_downsampling_averages_blocks() -> None:
    image = np.arange(100 * 130, dtype=np.float32).reshape(100, 130)
    small, factor = downsample_area(image, 32)
    assert factor == 5 and small.shape == (20, 26)
    assert small[1, 2] == pytest.approx(image[5:10, 10:15].mean())
    same, factor = downsample_area(image, 130)
    assert factor == 1 and same is image
    counts, _ = downsample_area(np.full((8, 8), 3, np.uint16), 4)
    assert counts.dtype == np.uint16 and (counts == 3).all()


def test_composite_uses_channel_colours() -> None:
    left = np.zeros((4, 4), np.float32)
    left[:, :2] = 1.0
    right = 1.0 - left
    rgb = make_composite([left, right], ["FF00FF", "00FFFF"])
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 4, 3)
    assert tuple(rgb[0, 0]) == (255, 0, 255) and tuple(rgb[0, 3]) == (0, 255, 255)
    with pytest.raises(ValueError, match="share one 2D shape"):
        make_composite([left, right[:2]], ["FF00FF", "00FFFF"])


def test_default_colours_follow_the_paper() -> None:
    assert default_color("Microtubules", 5) == "FF00FF"
    assert default_color("actin-647", 0) == "00FFFF"
    assert default_color("dapi", 2) == "FFFF00"
    with pytest.raises(ValueError, match="six hex digits"):
        parse_color("magenta")


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("tcp://127.0.0.1:5556", True),
        ("tcp://127.4.0.1:5556", True),
        ("tcp://localhost:*", True),
        ("tcp://[::1]:5556", True),
        ("ipc:///tmp/preview", True),
        ("tcp://*:5556", False),
        ("tcp://0.0.0.0:5556", False),
        ("tcp://192.168.1.20:5556", False),
        ("tcp://eth0:5556", False),
    ],
)
def test_loopback_policy(address: str, local: bool) -> None:
    assert is_loopback_address(address) is local
    if not local:
        with pytest.raises(ValidationError, match="allow_remote = true"):
            PreviewConfig(address=address)
        assert PreviewConfig(address=address, allow_remote=True).address == address


def test_bad_addresses_are_refused() -> None:
    with pytest.raises(ValidationError, match="expected tcp://HOST:PORT"):
        PreviewConfig(address="127.0.0.1:5556")
    with pytest.raises(ValidationError, match="port must be"):
        PreviewConfig(address="tcp://127.0.0.1:70000")
