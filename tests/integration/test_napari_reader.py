"""A tcan-live store opened in a real napari viewer through the plugin's npe2 reader."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from npe2 import PluginManifest

from tcan_live.napari.reader import get_reader
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink
from tests.integration.omezarr_helpers import CHANNELS, enhance, layout, raw_frame

TIME_POINTS, SLICES = 3, 2


def write_store(path: Path) -> None:
    sink = OmeZarrSink(OutputConfig(path=path, fsync=False))
    sink.setup(dataclasses.replace(layout(), z_step_nm=500.0))
    for t in range(TIME_POINTS):
        for z in range(SLICES):
            for channel in CHANNELS:
                frame = dataclasses.replace(raw_frame(t * SLICES + z, channel), t=t, z=z)
                sink.store_raw(frame)
                sink.append(frame, enhance(frame), {})
    sink.close()


def add_confidence_maps(store: Path) -> None:
    """A ``qc/0`` image as the confidence feature writes it: float32 on the raw grid."""
    shutil.copytree(store / "raw", store / "qc")
    attrs = zarr.open_group(store / "qc" / "0", mode="r").attrs.asdict()
    shutil.rmtree(store / "qc" / "0" / "0")
    group = zarr.open_group(store / "qc" / "0", mode="a")
    group.create_array("0", shape=(TIME_POINTS, 2, SLICES, 24, 32), dtype="float32")
    group.attrs.update(attrs)


def test_the_manifest_is_valid_and_registered() -> None:
    manifest = PluginManifest.from_distribution("tcan-live")
    assert manifest.name == "tcan-live"
    assert {w.display_name for w in manifest.contributions.widgets or []} == {
        "Live previews",
        "Watch folder",
    }
    assert [r.command for r in manifest.contributions.readers or []] == ["tcan-live.get_reader"]


def test_store_opens_with_raw_and_sr_overlaid_t_and_z_sliders(viewer: Any, tmp_path: Path) -> None:
    store = tmp_path / "run.zarr"
    write_store(store)
    assert get_reader(str(tmp_path)) is None  # not a store
    viewer.open(str(store), plugin="tcan-live")
    names = sorted(layer.name for layer in viewer.layers)
    assert names == sorted(f"{k} {c}" for k in ("raw", "SR") for c in CHANNELS)
    raw, sr = viewer.layers["raw actin"], viewer.layers["SR actin"]
    assert raw.data.shape == (TIME_POINTS, SLICES, 24, 32)
    assert sr.data.shape == (TIME_POINTS, SLICES, 48, 64)
    np.testing.assert_allclose(raw.scale, [20.0, 0.5, 0.1, 0.1])  # s, um, um, um
    np.testing.assert_allclose(sr.scale, [20.0, 0.5, 0.05, 0.05])
    for layer in (raw, sr):  # the sliders and the scale bar name what the store says
        assert layer.axis_labels == ("t", "z", "y", "x")
        assert [str(u) for u in layer.units] == ["second", "micrometer", "micrometer", "micrometer"]
    assert viewer.dims.axis_labels == ("t", "z", "y", "x")
    for layer in (raw, sr):  # the same field of view: 24 x 32 px at 100 nm = 2.4 x 3.2 um
        last = layer.extent.world[1][2:] + layer.scale[2:] / 2
        first = layer.extent.world[0][2:] - layer.scale[2:] / 2
        np.testing.assert_allclose(np.stack([first, last]), [[0.0, 0.0], [2.4, 3.2]], atol=1e-9)
    np.testing.assert_allclose(sr.colormap.colors[-1], [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(viewer.layers["SR microtubules"].colormap.colors[-1], [1, 0, 1, 1])
    assert sr.visible and not raw.visible
    assert viewer.dims.nsteps[:2] == (TIME_POINTS, SLICES)  # t and z sliders
    viewer.dims.set_point(0, 2 * 20.0)  # the last time point, in seconds
    viewer.dims.set_point(1, 0.5)  # the second slice
    expected = enhance(dataclasses.replace(raw_frame(2 * SLICES + 1, "actin"), t=2, z=1)).image
    np.testing.assert_array_equal(np.asarray(sr.data[2, 1]), expected)


def test_confidence_maps_are_shown_hidden_when_the_store_has_them(
    viewer: Any, tmp_path: Path
) -> None:
    store = tmp_path / "qc.zarr"
    write_store(store)
    add_confidence_maps(store)
    viewer.open(str(store), plugin="tcan-live")
    qc = viewer.layers["confidence actin"]
    assert not qc.visible and qc.colormap.name == "bwr"
    assert list(qc.contrast_limits) == [-5.0, 5.0]
    np.testing.assert_allclose(qc.scale, viewer.layers["raw actin"].scale)


def test_a_foreign_zarr_is_not_claimed(tmp_path: Path) -> None:
    zarr.open_group(tmp_path / "other.zarr", mode="w").attrs["something"] = 1
    assert get_reader(str(tmp_path / "other.zarr")) is None
    assert get_reader([str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")]) is None
