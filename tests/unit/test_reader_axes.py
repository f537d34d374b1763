"""The store reader's axis names and units for napari, from an NGFF image's axes."""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image

from tcan_live.napari.reader import _axis_labels_and_units

SPACE = {"type": "space", "unit": "micrometer"}


def image(axes: list[Any]) -> dict[str, Any]:
    return {"multiscales": [{"axes": axes}]}


def test_the_channel_axis_is_left_out_and_units_come_from_the_store() -> None:
    axes = [
        {"name": "t", "type": "time", "unit": "second"},
        {"name": "c", "type": "channel"},
        {"name": "z", **SPACE},
        {"name": "y", **SPACE},
        {"name": "x", **SPACE},
    ]
    assert _axis_labels_and_units(image(axes)) == {
        "axis_labels": ["t", "z", "y", "x"],
        "units": ["second", "micrometer", "micrometer", "micrometer"],
    }


def test_missing_unknown_or_malformed_units_count_in_pixels_and_napari_takes_them() -> None:
    axes = [
        {"name": "t", "type": "time"},
        {"name": "c"},  # no type: the second axis is the channel axis all the same
        {"name": "z", "unit": "a.u."},
        {"name": "y", "unit": ["micrometer"]},
        {"name": "x", "unit": None},
    ]
    options = _axis_labels_and_units(image(axes))
    assert options == {"axis_labels": ["t", "z", "y", "x"], "units": ["pixel"] * 4}
    layer = Image(np.zeros((2, 1, 3, 3)), **options)
    assert [str(u) for u in layer.units] == ["pixel"] * 4


def test_axes_napari_could_not_take_give_no_labels() -> None:
    assert _axis_labels_and_units(image([{"name": "y"}, {"name": "x"}])) == {}
    assert _axis_labels_and_units(image([{"name": "a"}] * 5)) == {}  # names repeat
    assert _axis_labels_and_units(image(["t", "c", "z", "y", "x"])) == {}
