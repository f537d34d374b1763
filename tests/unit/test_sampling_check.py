"""The input guards: undersampled frames and pixel sizes the image contradicts."""

from __future__ import annotations

import numpy as np

from tcan_live.runtime.sampling_check import SamplingGuard, check_sampling
from tcan_live.simulate.config import SimulationConfig
from tcan_live.simulate.pair import simulate_pair


def _confocal(size: int, seed: int = 0) -> np.ndarray:
    """A simulated confocal microtubule frame at 50 nm pixels (250 nm resolution)."""
    pair = simulate_pair("microtubules", size, np.random.default_rng(seed), SimulationConfig())
    return pair.lr.astype(np.float64)


def _binned(image: np.ndarray, factor: int) -> np.ndarray:
    side = image.shape[0] // factor
    return image[: side * factor, : side * factor].reshape(side, factor, side, factor).sum((1, 3))


def test_well_sampled_frame_passes() -> None:
    report = check_sampling(_confocal(192), 50.0, 250.0)
    assert report.warnings == ()
    assert 3.0 < report.finest_px < 10.0


def test_stated_coarse_pixels_are_undersampled() -> None:
    frame = _binned(_confocal(640), 5)  # 250 nm pixels
    report = check_sampling(frame, 250.0, 250.0)
    assert any("undersampled" in warning for warning in report.warnings)
    assert "250 nm pixels" in report.warnings[0]


def test_undersampled_frame_with_a_wrong_pixel_size_is_caught() -> None:
    frame = _binned(_confocal(640), 5)  # really 250 nm pixels
    for stated in (124.0, 50.0):
        report = check_sampling(frame, stated, 250.0)
        assert report.finest_px < 2.85
        assert any("undersampled" in warning for warning in report.warnings), stated
    too_small = check_sampling(frame, 50.0, 250.0)
    assert any("probably too small" in warning for warning in too_small.warnings)


def test_pixel_size_far_too_large_is_reported() -> None:
    report = check_sampling(_confocal(192), 500.0, 250.0)
    assert any("undersampled" in warning for warning in report.warnings)
    assert any("too large" in warning for warning in report.warnings)


def test_guard_checks_each_pixel_size_once() -> None:
    frame = _binned(_confocal(640), 5)
    guard = SamplingGuard(250.0)
    first = guard.check(frame, 250.0)
    assert first and "undersampled" in first[0]
    assert guard.check(frame, 250.0) == ()


def test_blank_frames_leave_the_check_to_later_frames() -> None:
    guard = SamplingGuard(250.0)
    blank = np.full((64, 64), 100.0)
    assert guard.check(blank, 124.0) == ()  # nothing to measure, Nyquist is fine
    frame = _binned(_confocal(640), 5)
    assert any("undersampled" in warning for warning in guard.check(frame, 124.0))
