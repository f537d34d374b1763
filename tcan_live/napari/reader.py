"""Open a tcan-live store in napari: raw, SR (and confidence) of every image, overlaid.

Each image of the store (one per stage position, tile and run) gives one layer per kind and
channel, named and coloured from the store's omero metadata, at its physical scale in
micrometres (raw and SR have different pixel sizes and overlay exactly), with time and z as
sliders. A confidence group (``qc/``), where a store has one, is added hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import zarr
from ome_zarr.axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS
from zarr.storage import LocalStore

from tcan_live.napari.display import (
    channel_colormap,
    contrast_limits,
    corner_translate,
    qc_layer_options,
)
from tcan_live.sinks.store_layout import (
    LAYOUT_ATTRIBUTE,
    RAW_GROUP,
    SR_GROUP,
    image_path,
    stored_document,
    stored_images,
)

LayerData = tuple[Any, dict[str, Any], str]
# The per-frame consistency maps of the confidence feature (same grid as raw, float32).
QC_GROUP = "qc"
_KINDS = ((RAW_GROUP, "raw"), (SR_GROUP, "SR"), (QC_GROUP, "confidence"))


def is_store(path: Path) -> bool:
    """Whether ``path`` is a folder holding a tcan-live store (root attribute ``tcan_live``)."""
    if not (path / "zarr.json").is_file():
        return False
    try:
        root = zarr.open_group(LocalStore(path, read_only=True), mode="r")
    except (OSError, ValueError):
        return False
    return LAYOUT_ATTRIBUTE in root.attrs


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """Return the store reader for a tcan-live store, None for anything else (npe2 reader)."""
    paths = [path] if isinstance(path, str) else list(path)
    if len(paths) != 1 or not is_store(Path(paths[0])):
        return None
    return read_store


def read_store(path: str | list[str]) -> list[LayerData]:
    """Return napari layer data for every image and kind of the store at ``path``."""
    root = Path(path if isinstance(path, str) else path[0])
    stored_document(root)  # refuses foreign or older stores with one line
    images = stored_images(root)
    several = len(images) > 1
    layers: list[LayerData] = []
    for image in images:
        for group, title in _KINDS:
            location = root / image_path(group, image.series)
            if not (location / "zarr.json").is_file():
                continue  # no raw images kept, or no confidence maps written
            suffix = f" {image.position.name or f'p{image.series}'}" if several else ""
            layers.append(_image_layer(location, title, suffix))
    return layers


def _scale_and_translate(attrs: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Return the (t, c, z, y, x) scale and translation of an NGFF image's dataset 0."""
    dataset = attrs["multiscales"][0]["datasets"][0]
    scale, translate = [1.0] * 5, [0.0] * 5
    for transform in dataset.get("coordinateTransformations", []):
        if transform.get("type") == "scale":
            scale = [float(v) for v in transform["scale"]]
        elif transform.get("type") == "translation":
            translate = [float(v) for v in transform["translation"]]
    return scale, translate


# The units NGFF allows on space and time axes (UDUNITS names), all of which napari reads.
NGFF_UNITS = frozenset(KNOWN_SPATIAL_UNITS) | frozenset(KNOWN_TEMPORAL_UNITS)


def _axis_labels_and_units(attrs: dict[str, Any]) -> dict[str, list[str]]:
    """Return napari's ``axis_labels`` and ``units`` for an NGFF (t, c, z, y, x) image.

    The channel axis (second) is left out, as it is from the scale. NGFF units are UDUNITS
    names (``micrometer``, ``second``), which napari's units read; an axis without one, or
    with one NGFF does not allow (napari would refuse it, and the store with it), counts in
    samples (``pixel``), napari's own default. Axes that are not five, or names that repeat,
    give no labels.
    """
    axes = attrs["multiscales"][0].get("axes", [])
    if len(axes) != 5 or not all(isinstance(axis, dict) for axis in axes):
        return {}
    kept = [axes[0], *axes[2:]]
    labels = [str(axis.get("name") or f"axis {i}") for i, axis in enumerate(kept)]
    if len(set(labels)) != len(labels):  # napari needs them apart
        return {}
    units = [axis.get("unit") for axis in kept]
    return {
        "axis_labels": labels,
        "units": [u if isinstance(u, str) and u in NGFF_UNITS else "pixel" for u in units],
    }


def _image_layer(location: Path, title: str, suffix: str) -> LayerData:
    group = zarr.open_group(LocalStore(location, read_only=True), mode="r")
    attrs: dict[str, Any] = dict(cast("dict[str, Any]", group.attrs["ome"]))
    data = zarr.open_array(LocalStore(location / "0", read_only=True), mode="r")
    scale, translate = _scale_and_translate(attrs)
    for axis in (3, 4):  # pixel corners at the origin, as in the live layers
        translate[axis] += corner_translate(scale[axis])
    channels: list[dict[str, Any]] = attrs.get("omero", {}).get("channels", [])
    names = [str(c.get("label", f"channel {i}")) for i, c in enumerate(channels)]
    names += [f"channel {i}" for i in range(len(names), data.shape[1])]
    options: dict[str, Any] = {
        "channel_axis": 1,
        "name": [f"{title} {name}{suffix}" for name in names],
        "scale": [scale[0], *scale[2:]],
        "translate": [translate[0], *translate[2:]],
        **_axis_labels_and_units(attrs),
        "metadata": {"tcan_live_kind": title, "path": str(location)},
    }
    if title == "confidence":
        options |= {k: [v] * data.shape[1] for k, v in qc_layer_options().items()}
        options["visible"] = False
    else:
        first = np.asarray(data[0, :, 0])  # the first time point and slice of every channel
        options["colormap"] = [channel_colormap(c.get("color")) for c in channels]
        options["contrast_limits"] = [contrast_limits(plane) for plane in first]
        options["blending"] = "additive"
        options["visible"] = title == "SR"
    return data, options, "image"
