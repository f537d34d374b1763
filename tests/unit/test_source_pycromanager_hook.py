"""The pycromanager hook on metadata dicts of the documented form (no acquisition)."""

from __future__ import annotations

import numpy as np
import pytest

from tcan_live.core.acquisition import Frame
from tcan_live.sources.protocol import FrameCallback
from tcan_live.sources.pycromanager_hook import ImageProcessFn, PycromanagerSource


def image_process_fn(emit: FrameCallback, **options: object) -> ImageProcessFn:
    source = PycromanagerSource(**options)  # type: ignore[arg-type]
    source.start(emit)
    return source.image_process_fn


def _metadata(t: int, channel: object, elapsed_ms: float = 0.0) -> dict[str, object]:
    return {
        "Camera": "Camera",
        "Width": 8,
        "Height": 6,
        "PixelSize_um": 0.248,
        "ElapsedTime-ms": elapsed_ms,
        "Axes": {"time": t, "channel": channel},
        "Exposure": 10.0,
    }


def test_hook_passes_image_and_metadata_through_untouched() -> None:
    got: list[Frame] = []
    fn = image_process_fn(got.append)
    image = np.arange(48, dtype=np.uint16).reshape(6, 8)
    metadata = _metadata(3, "FITC")
    out_image, out_metadata = fn(image, metadata)
    assert out_image is image and out_image.dtype == np.uint16
    assert out_metadata is metadata
    (frame,) = got
    assert frame.key[:2] == (3, "FITC")
    assert frame.pixel_size_nm == pytest.approx(248.0)
    assert not np.shares_memory(frame.image, image)  # a copy: Micro-Manager keeps its buffer


def test_timestamps_keep_the_acquisition_spacing() -> None:
    got: list[Frame] = []
    fn = image_process_fn(got.append)
    image = np.zeros((4, 4), np.uint8)
    for t, elapsed in enumerate([0.0, 1500.0, 3000.0]):
        fn(image, _metadata(t, "DAPI", elapsed))
    gaps = np.diff([f.timestamp for f in got])
    np.testing.assert_allclose(gaps, [1.5, 1.5], atol=1e-6)


def test_integer_channels_use_channel_names_and_missing_axes_use_defaults() -> None:
    got: list[Frame] = []
    fn = image_process_fn(got.append, channel_names=["microtubules", "actin"], pixel_size_nm=50.0)
    image = np.zeros((4, 4), np.uint16)
    fn(image, _metadata(0, 1))
    fn(image, {"PixelSize_um": 0.1})
    assert [f.key[:2] for f in got] == [(0, "actin"), (0, "default")]
    assert {f.pixel_size_nm for f in got} == {50.0}


def test_a_bad_image_is_reported_and_still_passed_through() -> None:
    errors: list[str] = []
    got: list[Frame] = []
    source = PycromanagerSource(channel_names=["a"], on_error=errors.append)
    source.start(got.append)
    image = np.zeros((4, 4), np.uint16)
    out = source.image_process_fn(image, _metadata(0, 5))
    assert out[0] is image
    assert got == []
    assert len(errors) == 1 and "channel index 5" in errors[0]


def test_before_start_and_after_stop_images_only_pass_through() -> None:
    source = PycromanagerSource()
    image = np.zeros((4, 4), np.uint16)
    assert source.image_process_fn(image, _metadata(0, "a"))[0] is image
    got: list[Frame] = []
    source.start(got.append)
    source.stop()
    source.image_process_fn(image, _metadata(1, "a"))
    assert got == [] and source.missed == 2
