import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tcan_live.metrics import (
    bead_fwhm,
    decorrelation_resolution,
    error_map,
    frc_resolution,
    percentile_range,
    percentile_statistics,
    quality,
    register_translation,
    shift_image,
    snr,
)
from tcan_live.metrics.snr import Regions, regions_from
from tcan_live.model import NormalizationSpec


def _spots(rng: np.random.Generator, sigma_px: float, photons: float) -> np.ndarray:
    size, spacing = 200, 20
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    image = np.full((size, size), 5.0)
    for r in range(spacing, size - spacing + 1, spacing):
        for c in range(spacing, size - spacing + 1, spacing):
            r0, c0 = r + rng.uniform(-0.5, 0.5), c + rng.uniform(-0.5, 0.5)
            image += photons * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * sigma_px**2))
    return rng.poisson(image).astype(np.float32)


@pytest.mark.parametrize("sigma_px", [1.2, 2.0, 2.6])
def test_fwhm_of_gaussian_spots_within_3_percent(sigma_px: float) -> None:
    image = _spots(np.random.default_rng(1), sigma_px, photons=200.0)
    result = bead_fwhm(image, pixel_size_nm=50.0, window=15)
    expected = 2 * math.sqrt(2 * math.log(2)) * sigma_px * 50.0
    assert len(result.fits) == 81
    assert result.mean_nm == pytest.approx(expected, rel=0.03)
    assert result.sd_nm < 0.05 * expected


def test_fwhm_rejects_bad_windows_and_shapes() -> None:
    with pytest.raises(ValueError, match="odd"):
        bead_fwhm(np.zeros((20, 20)), 50.0, window=10)
    with pytest.raises(ValueError, match="2D"):
        bead_fwhm(np.zeros((2, 20, 20)), 50.0)
    assert math.isnan(bead_fwhm(np.zeros((30, 30)), 50.0).mean_nm)


@pytest.mark.parametrize("sigma_px", [2.0, 3.0, 4.0])
def test_decorrelation_of_noisy_gaussian_blur_within_10_percent(sigma_px: float) -> None:
    """White random object, Gaussian blur, white noise 20 dB below the object's spectrum.

    The image's spectral SNR is exp(-4 pi^2 sigma^2 k^2) / noise_var, which is 1 at
    k_c = sqrt(ln(1 / noise_var)) / (2 pi sigma) cycles per pixel; the decorrelation estimate
    of resolution is the period there, 1 / k_c.
    """
    rng = np.random.default_rng(0)
    noise_sd = 0.1
    image = gaussian_filter(rng.standard_normal((256, 256)), sigma_px, mode="wrap")
    image += rng.normal(0.0, noise_sd, image.shape) + 10.0
    k_c = math.sqrt(math.log(1.0 / noise_sd**2)) / (2 * math.pi * sigma_px)
    assert decorrelation_resolution(image, 50.0) == pytest.approx(50.0 / k_c, rel=0.10)


def test_decorrelation_and_frc_failures_are_nan() -> None:
    assert math.isnan(decorrelation_resolution(np.ones((64, 64)), 50.0))
    blurred = gaussian_filter(np.random.default_rng(0).standard_normal((128, 128)), 3.0)
    assert (
        frc_resolution(blurred + 0.05 * np.random.default_rng(1).standard_normal((128, 128)), 50.0)
        > 0
    )
    with pytest.raises(ValueError, match="shape"):
        frc_resolution(np.ones((8, 8)), 50.0, np.ones((9, 9)))


@pytest.mark.parametrize("shift", [(0.3, -1.7), (2.45, 0.15), (-0.8, 3.6)])
def test_registration_recovers_sub_pixel_shifts(shift: tuple[float, float]) -> None:
    rng = np.random.default_rng(4)
    reference = gaussian_filter(rng.random((128, 128)), 3.0, mode="wrap") * 1000
    moved = shift_image(reference, (-shift[0], -shift[1]))
    moved = moved + rng.normal(0, 0.5, moved.shape)
    found = register_translation(reference, moved)
    assert found[0] == pytest.approx(shift[0], abs=0.1)
    assert found[1] == pytest.approx(shift[1], abs=0.1)
    aligned = shift_image(moved, found)
    assert np.abs(aligned - reference)[8:-8, 8:-8].mean() < np.abs(moved - reference).mean()


def test_snr_formula_on_a_constructed_case() -> None:
    image = np.where(np.indices((20, 20)).sum(axis=0) % 2 == 0, 8.0, 12.0)  # mean 10, sd 2
    signal = np.zeros((20, 20), dtype=bool)
    signal[5:10, 5:10] = True
    image[signal] = 30.0
    background = np.ones((20, 20), dtype=bool)
    background[3:13, 3:13] = False  # an even block keeps the checkerboard balanced
    assert snr(image, Regions(signal=signal, background=background)) == pytest.approx(10.0)
    # The automatic regions find the bright square and keep a guard band around it.
    reference = np.zeros((20, 20))
    reference[signal] = 1.0
    regions = regions_from(reference, guard=3)
    assert regions.signal[signal].all() and regions.signal.sum() < 2 * signal.sum()
    assert not regions.background[2:13, 2:13].any() and regions.background[:, 15:].all()
    assert snr(image, reference=reference) > 8.0


def test_quality_is_invariant_to_affine_intensity_and_penalises_noise() -> None:
    rng = np.random.default_rng(0)
    truth = gaussian_filter(rng.random((64, 64)), 2.0)
    perfect = quality(3.0 * truth + 7.0, truth)
    assert perfect.mse == pytest.approx(0.0, abs=1e-12) and perfect.ssim == pytest.approx(1.0)
    slightly = quality(truth + rng.normal(0, 0.002, truth.shape), truth)
    very = quality(truth + rng.normal(0, 0.02, truth.shape), truth)
    assert slightly.psnr > very.psnr + 10 and slightly.ssim > very.ssim
    with pytest.raises(ValueError, match="differ"):
        quality(truth[:10], truth)


def test_error_map_recovers_blur_and_scale() -> None:
    rng = np.random.default_rng(3)
    sharp = gaussian_filter(rng.random((64, 64)), 1.0)
    reference = 4.0 * gaussian_filter(sharp, 2.0, mode="reflect") + 2.0
    result = error_map(reference, sharp)
    assert result.sigma_px == pytest.approx(2.0, abs=0.05)
    assert result.alpha == pytest.approx(4.0, rel=0.02)
    assert result.rsp > 0.999 and result.rse < 1e-3
    upsampled = np.kron(sharp, np.ones((2, 2)))
    assert error_map(reference, upsampled).rsp > 0.99


def test_percentile_normalisation_round_trip_and_statistics() -> None:
    image = np.arange(1000, dtype=np.float32).reshape(25, 40)
    span = percentile_range(image, NormalizationSpec())
    assert span.low == pytest.approx(9.99) and span.high == pytest.approx(997.002)
    np.testing.assert_allclose(span.denormalize(span.normalize(image)), image, rtol=1e-5)
    stats = percentile_statistics([image, image * 2])
    assert stats["images"] == 2 and stats["high_max"] == pytest.approx(2 * 997.002)


@pytest.mark.parametrize("preset_name", ["confocal-sted", "widefield-sim"])
def test_align_pair_undoes_a_known_shift_of_a_simulated_pair(preset_name: str) -> None:
    from tcan_live.metrics import align_pair
    from tcan_live.simulate import preset, simulate_pair

    pair = simulate_pair("actin", 96, np.random.default_rng(2), preset(preset_name))
    shift = (1.35, -0.6)
    moved = shift_image(pair.gt, (-shift[0], -shift[1]))
    aligned, found = align_pair(pair.lr_clean, moved)
    assert found[0] == pytest.approx(shift[0], abs=0.1)
    assert found[1] == pytest.approx(shift[1], abs=0.1)
    assert np.abs(aligned - pair.gt)[6:-6, 6:-6].max() < 0.1 * pair.gt.max()
