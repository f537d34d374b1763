"""Display colours of channels: the paper's magenta microtubules and cyan actin by default."""

from __future__ import annotations

import re

MAGENTA = "FF00FF"
CYAN = "00FFFF"
# After the two paper colours, distinct colours for further channels (yellow, green, red, blue).
_FALLBACK = (MAGENTA, CYAN, "FFFF00", "00FF00", "FF0000", "0000FF")
_BY_NAME = (
    (re.compile(r"tubulin|microtubule|\bmt\b", re.IGNORECASE), MAGENTA),
    (re.compile(r"actin|phalloidin|lifeact", re.IGNORECASE), CYAN),
)
_HEX = re.compile(r"^[0-9A-Fa-f]{6}$")


def default_color(name: str, index: int) -> str:
    """Return the display colour (hex ``RRGGBB``) for channel ``name`` at position ``index``.

    Parameters
    ----------
    name
        Channel name; microtubule and actin names get magenta and cyan, as in the paper.
    index
        Position of the channel in the acquisition, used for any other name.
    """
    for pattern, color in _BY_NAME:
        if pattern.search(name):
            return color
    return _FALLBACK[index % len(_FALLBACK)]


def is_color(value: object) -> bool:
    """Return True when ``value`` is a hex ``RRGGBB`` colour string."""
    return isinstance(value, str) and _HEX.match(value) is not None


def parse_color(value: str) -> tuple[int, int, int]:
    """Return the (r, g, b) bytes of a hex ``RRGGBB`` colour, or raise ``ValueError``."""
    if not _HEX.match(value):
        raise ValueError(f"colour {value!r}: expected six hex digits RRGGBB, e.g. FF00FF")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
