"""The enhancer with a real (tiny, random-weight) TCAN generator in torch eager mode."""

import logging

import numpy as np
import pytest
import torch

from tcan_live.core.frame_check import FrameRejected
from tcan_live.engine.torch_eager import TorchEagerBackend
from tcan_live.metrics.intensity import percentile_range
from tcan_live.model import NormalizationSpec
from tcan_live.runtime import Enhancer, PixelSizePolicy
from tests.synthetic import filament_image, tiny_generator

SPEC = NormalizationSpec()


def _enhancer(scale: int = 1, tile: int = 64, halo: int = 8, **options) -> Enhancer:
    backend = TorchEagerBackend(tiny_generator(scale), tile, max_batch=4)
    return Enhancer(backend, pixel_size_nm=50.0, normalization=SPEC, halo=halo, **options)


def _whole_frame(enhancer: Enhancer, image: np.ndarray) -> np.ndarray:
    assert isinstance(enhancer.backend, TorchEagerBackend)
    intensity = percentile_range(image, SPEC)
    with torch.inference_mode():
        batch = torch.from_numpy(intensity.normalize(image))[None, None]
        out = enhancer.backend.generator(batch).numpy()[0, 0]
    return intensity.denormalize(out)


def _ramp() -> np.ndarray:
    yy, xx = np.mgrid[0:200, 0:240].astype(np.float32)
    return 100.0 + 2.0 * yy + xx


def _filaments() -> np.ndarray:
    return filament_image((200, 240), 50.0, seed=1) * 1000.0 + 50.0


BORDER = 16  # pixels excluded at the frame border (whole-frame padding differs there)


@pytest.mark.parametrize("make_image", [_ramp, _filaments], ids=["ramp", "filaments"])
def test_tiling_leaves_no_seam(make_image) -> None:
    image = make_image()
    spread = percentile_range(image, SPEC).spread
    errors = {}
    for halo in (8, 0):
        enhancer = _enhancer(halo=halo)
        tiled = enhancer.enhance(image, 50.0).image
        whole = _whole_frame(enhancer, image)
        b = BORDER
        errors[halo] = np.abs(tiled - whole)[b:-b, b:-b] / spread
        if halo:
            # Gradient across tile transitions (overlap zones) against everywhere else.
            step = 64 - 2 * halo
            gradient = np.abs(np.diff(tiled, axis=1))[b:-b, b:-b]
            columns = np.arange(gradient.shape[1]) + b + 0.5
            in_zone = np.zeros(columns.shape, dtype=bool)
            for centre in range(step, image.shape[1], step):
                in_zone |= np.abs(columns - centre) <= halo
            at_seams = np.percentile(gradient[:, in_zone], 99)
            elsewhere = np.percentile(gradient[:, ~in_zone], 99)
            assert at_seams <= 1.5 * elsewhere
    # Stated tolerance: 1 % of the input's intensity range at worst, 0.1 % on average.
    assert errors[8].max() < 0.01 and errors[8].mean() < 0.001
    # Without a halo the tiles' edges show: the check above can fail.
    assert errors[0].max() > 5 * errors[8].max()


def test_tiles_are_batched_across_the_frame() -> None:
    enhancer = _enhancer()
    results = enhancer.enhance_many([(_filaments(), 50.0), (_filaments()[:90, :70], 50.0)])
    assert results[0].image.shape == (200, 240) and results[1].image.shape == (90, 70)


def test_same_structure_at_two_pixel_sizes_agrees() -> None:
    enhancer = _enhancer()
    fine = filament_image((160, 160), 50.0, seed=3) * 800 + 40
    coarse = filament_image((80, 80), 100.0, seed=3) * 800 + 40
    from_fine = enhancer.enhance(fine, 50.0)
    from_coarse = enhancer.enhance(coarse, 100.0)
    assert from_fine.pixel_size_nm == from_coarse.pixel_size_nm == 50.0
    assert from_coarse.image.shape == from_fine.image.shape
    b = BORDER
    a, c = from_fine.image[b:-b, b:-b].ravel(), from_coarse.image[b:-b, b:-b].ravel()
    assert np.corrcoef(a, c)[0, 1] > 0.9
    other = enhancer.enhance(filament_image((160, 160), 50.0, seed=4) * 800 + 40, 50.0)
    assert np.corrcoef(a, other.image[b:-b, b:-b].ravel())[0, 1] < 0.5


def test_scale_two_output_and_pixel_size() -> None:
    enhancer = _enhancer(scale=2)
    result = enhancer.enhance(_filaments()[:100, :70], 100.0)
    assert result.pixel_size_nm == 25.0
    assert result.image.shape == (400, 280)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.int32])
def test_input_dtypes_and_uint16_output(dtype) -> None:
    image = (_filaments()[:64, :96] / 5).astype(dtype)
    result = _enhancer(output_dtype="uint16").enhance(image, 50.0)
    assert result.image.dtype == np.uint16 and result.image.shape == (64, 96)


def test_result_stays_on_the_input_intensity_scale() -> None:
    image = _filaments()
    for factor in (1.0, 30.0):
        out = _enhancer().enhance(image * factor, 50.0).image
        assert abs(np.median(out) - np.median(image * factor)) < 0.2 * factor * np.ptp(image)


@pytest.mark.parametrize(
    ("frame", "pixel_size", "message"),
    [
        (np.zeros((4, 32, 32)), 50.0, "expected a 2D"),
        (np.zeros((4, 32)), 50.0, "at least 8 x 8"),
        (np.zeros((32, 32), dtype=complex), 50.0, "expected integer or float"),
        (np.full((32, 32), np.nan, dtype=np.float32), 50.0, "1024 NaN/inf pixels"),
        (np.zeros((32, 32)), None, "pixel size unknown"),
        (np.zeros((32, 32)), -1.0, "expected a positive number"),
        (np.zeros((32, 32)), 5000.0, "100.0x from the engine's 50 nm"),
    ],
)
def test_bad_frames_get_clear_errors(frame, pixel_size, message) -> None:
    with pytest.raises(FrameRejected, match=message):
        _enhancer().enhance(frame, pixel_size)


def test_output_size_limit() -> None:
    enhancer = _enhancer(max_output_pixels=10_000)
    with pytest.raises(FrameRejected, match="over the 10,000 pixel limit"):
        enhancer.enhance(np.zeros((64, 64), dtype=np.uint16), 100.0)


def test_far_pixel_size_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    enhancer = _enhancer(pixel_size_policy=PixelSizePolicy(warn_ratio=1.5, max_ratio=10))
    with caplog.at_level(logging.WARNING, logger="tcan_live"):
        enhancer.enhance(np.ones((32, 32), dtype=np.uint16), 200.0)
        enhancer.enhance(np.ones((32, 32), dtype=np.uint16), 200.0)
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "4.0x from the engine's 50 nm" in caplog.records[0].message


def test_running_normalisation_gives_a_smooth_output_trace() -> None:
    from tests.unit.test_normalize import _bleaching_timelapse, _roughness

    series = _bleaching_timelapse(20)
    roughness = {}
    for mode in ("per-frame", "running"):
        enhancer = _enhancer(tile=64, mode=mode, running_frames=5.0)
        means = np.array([enhancer.enhance(frame, 50.0).image.mean() for frame in series])
        roughness[mode] = _roughness(means)
    print(f"output-mean roughness (log residual sd): {roughness}")
    assert roughness["running"] < 0.6 * roughness["per-frame"]


def test_per_frame_mode_is_plain_per_frame_normalisation() -> None:
    image = _filaments()[:64, :64]
    enhancer = _enhancer(tile=64, halo=0)
    np.testing.assert_allclose(
        enhancer.enhance(image, 50.0).image, _whole_frame(enhancer, image), rtol=1e-5, atol=1e-3
    )
