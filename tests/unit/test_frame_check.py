"""The one frame check every source applies, and how a frame that fails it is kept."""

from __future__ import annotations

import numpy as np
import pytest

from tcan_live.core.acquisition import Frame
from tcan_live.core.frame_check import (
    FrameRejected,
    check_frame,
    check_image,
    check_pixel_size,
    checked_or_marked,
)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4), np.int32), "unexpected dtype int32: expected one of uint8, uint16"),
        (np.zeros((4, 4, 3), np.uint8), r"unexpected shape \(4, 4, 3\): expected a 2D"),
        (np.zeros((0, 4), np.uint16), r"unexpected shape \(0, 4\)"),
        (np.full((2, 3), np.inf, np.float32), "6 NaN/inf pixels: expected finite values"),
        ([[1, 2], [3, 4]], "pixels of type list: expected a numpy array"),
    ],
)
def test_acquired_frames_need_2d_finite_pixels_of_a_camera_type(
    image: np.ndarray, message: str
) -> None:
    with pytest.raises(FrameRejected, match=message):
        check_image(image)


def test_any_numeric_type_when_asked_and_native_byte_order_always() -> None:
    big_endian = np.arange(12, dtype=">u2").reshape(3, 4)
    checked = check_image(big_endian)
    assert checked.dtype == np.dtype("=u2") and checked.flags.c_contiguous
    np.testing.assert_array_equal(checked, big_endian)
    assert check_image(np.ones((3, 3), np.float64), dtypes=None).dtype == np.float64
    with pytest.raises(FrameRejected, match="expected integer or float pixels"):
        check_image(np.ones((3, 3), np.complex64), dtypes=None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "no pixel size in the metadata: expected one"),
        (0.5, "absurd pixel size 0.5 nm from the metadata: expected 1..100000 nm"),
        (float("nan"), "absurd pixel size nan nm"),
        (352_778.0, "absurd pixel size 352778 nm"),
    ],
)
def test_pixel_sizes_must_be_plausible(value: float | None, message: str) -> None:
    with pytest.raises(FrameRejected, match=message):
        check_pixel_size(value, "the metadata")


def _frame(image: np.ndarray, pixel_size_nm: float | None = 65.0) -> Frame:
    return Frame(image, 3, "actin", pixel_size_nm, 0.0, "test")


def test_a_frame_that_fails_is_marked_not_dropped() -> None:
    good = _frame(np.ones((4, 4), np.uint16))
    assert check_frame(good, "here") is good and checked_or_marked(good, "here") is good
    marked = checked_or_marked(_frame(np.ones((4, 4), np.uint16), None), "the core")
    assert marked.problem is not None and marked.problem.startswith("no pixel size in the core")
    assert marked.key[:2] == (3, "actin")
