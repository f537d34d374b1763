"""The consistency map: invented structure is flagged where it is; consistent results are not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tcan_live.metrics.consistency import consistency_map
from tcan_live.metrics.noise import fit_noise_model
from tcan_live.runtime.confidence import ConfidenceSettings, ConsistencyChecker

SIZE = 96
CONFOCAL_SIGMA = 2.1  # input pixels (250 nm FWHM at 50 nm pixels)
SR_SIGMA = 0.9


def _lines(rng: np.random.Generator) -> np.ndarray:
    """A few straight filaments, one pixel wide."""
    density = np.zeros((SIZE, SIZE))
    for _ in range(4):
        y0, x0 = rng.uniform(0, SIZE, 2)
        angle = rng.uniform(0, np.pi)
        for s in np.linspace(-SIZE, SIZE, 4 * SIZE):
            y, x = int(y0 + s * np.sin(angle)), int(x0 + s * np.cos(angle))
            if 0 <= y < SIZE and 0 <= x < SIZE:
                density[y, x] = 1.0
    return density


def _scene(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(measured confocal frame with Poisson noise over an offset, a faithful SR result)."""
    rng = np.random.default_rng(seed)
    density = _lines(rng)
    confocal = gaussian_filter(density, CONFOCAL_SIGMA)
    frame = 100.0 + rng.poisson(confocal / confocal.max() * 60.0 + 3.0).astype(np.float64)
    return frame, gaussian_filter(density, SR_SIGMA) * 40.0


def _check(frame: np.ndarray, output: np.ndarray, **options: float):
    blur = float(np.sqrt(CONFOCAL_SIGMA**2 - SR_SIGMA**2))
    return consistency_map(
        frame,
        output,
        blur_px=blur,
        smoothing_px=CONFOCAL_SIGMA,
        noise=fit_noise_model(frame),
        **options,
    )


def test_faithful_result_is_consistent() -> None:
    frame, output = _scene()
    figures = _check(frame, output)
    assert figures.rsp > 0.9
    assert 0.7 < figures.z_rms < 1.3
    assert 0.8 < figures.residual_to_noise < 1.3
    assert figures.outlier_fraction < 0.005


def test_invented_filament_is_flagged_where_it_is() -> None:
    frame, output = _scene()
    invented = output.copy()
    invented[40:42, 10:86] += output.max() * 0.5  # a filament the data do not contain
    figures = _check(frame, invented)
    outliers = np.abs(figures.map) > 5.0
    assert figures.outlier_fraction > 0.005
    rows, cols = np.nonzero(outliers[4:-4, 4:-4])
    assert rows.size
    assert np.all(np.abs(rows + 4 - 40.5) <= 6)  # within the PSF of the invented filament
    assert cols.min() + 4 >= 4 and cols.max() + 4 <= 92
    assert float(figures.map[36:46, 20:76].min()) < -5.0  # negative: shown, not measured


def test_lost_structure_is_positive() -> None:
    frame, output = _scene()
    erased = output.copy()
    erased[:, : SIZE // 2] = 0.0  # the result dropped half the filaments
    figures = _check(frame, erased)
    assert figures.outlier_fraction > 0.005
    assert float(np.max(figures.map[:, : SIZE // 2 - 6])) > 5.0


def test_structure_made_of_noise_is_caught() -> None:
    rng = np.random.default_rng(4)
    blank = 100.0 + rng.poisson(20.0, (SIZE, SIZE)).astype(np.float64)
    # A result that "enhances" the noise: deconvolved noise, whose re-blur is the noise's own
    # low frequencies (as the shipped small engines give on blank frames: 0.36-0.43).
    blur = np.sqrt(CONFOCAL_SIGMA**2 - SR_SIGMA**2)
    frequency = np.fft.fftfreq(SIZE)
    k2 = frequency[:, None] ** 2 + frequency[None, :] ** 2
    gain = np.minimum(np.exp(2 * np.pi**2 * blur**2 * k2), 5.0) * np.exp(-(np.pi**2) * k2)
    from_noise = np.real(np.fft.ifft2(np.fft.fft2(blank - blank.mean()) * gain)) + 120.0
    figures = _check(blank, from_noise)
    assert figures.residual_to_noise < 0.5
    flat = np.full((SIZE, SIZE), float(blank.mean()))
    honest = _check(blank, flat)
    assert 0.8 < honest.residual_to_noise < 1.25
    assert honest.outlier_fraction == 0.0


def test_alpha_floor_keeps_an_uncorrelated_invention_visible() -> None:
    rng = np.random.default_rng(5)
    blank = 100.0 + rng.poisson(20.0, (SIZE, SIZE)).astype(np.float64)
    _, output = _scene(seed=7)  # filaments the blank frame does not have
    free = _check(blank, output + 120.0)
    assert free.alpha < 0.2 and free.outlier_fraction < 0.005  # a free fit scales them away
    floored = _check(blank, output + 120.0, min_alpha=1.0)
    assert floored.alpha == 1.0
    assert floored.outlier_fraction > 0.005


def test_checker_flags_and_calibrates_once() -> None:
    frame, output = _scene()
    checker = ConsistencyChecker(ConfidenceSettings(), input_fwhm_nm=250.0)
    good = checker.check(frame, 50.0, output, frame.shape)
    assert not good.flagged and good.flag == ""
    assert checker.blur_nm == pytest.approx(np.sqrt(2.1**2 - 0.9**2) * 50.0, rel=0.15)
    invented = output.copy()
    invented[40:42, 10:86] += output.max() * 0.5
    bad = checker.check(frame, 50.0, invented, frame.shape)
    assert bad.flagged and "disagree with the data" in bad.flag
    assert bad.map.dtype == np.float32 and bad.map.shape == frame.shape
    summary = bad.summary()
    assert summary["flagged"] is True and bad.outlier_fraction > 0.005


def test_checker_on_a_finer_output_grid() -> None:
    frame, _ = _scene()
    rng = np.random.default_rng(1)
    density = _lines(rng)  # the same filaments as _scene(1)
    fine = np.kron(gaussian_filter(density, SR_SIGMA), np.ones((2, 2))) * 40.0
    checker = ConsistencyChecker(ConfidenceSettings(), input_fwhm_nm=250.0)
    result = checker.check(frame, 50.0, fine, frame.shape)
    assert result.map.shape == frame.shape
    assert not result.flagged, result.flag


@pytest.mark.parametrize(("length", "sigma"), [(300, 2.1), (40, 2.1), (1000, 0.7), (37, 5.0)])
def test_pooled_noise_energy_is_exact_at_any_size(length: int, sigma: float) -> None:
    from scipy.ndimage import gaussian_filter1d

    from tcan_live.metrics.consistency import _pooling_energy_1d

    responses = gaussian_filter1d(np.eye(length), sigma, axis=0, mode="reflect")
    expected = np.sum(responses**2, axis=1)
    np.testing.assert_allclose(_pooling_energy_1d(length, sigma), expected, atol=1e-15)
    assert _pooling_energy_1d(16384, 2.1).shape == (16384,)  # no length x length matrix


def test_a_flat_integer_frame_has_a_rounding_noise_floor() -> None:
    flat = np.full((SIZE, SIZE), 100.0)
    _, output = _scene()
    checker = ConsistencyChecker(ConfidenceSettings(), input_fwhm_nm=250.0)
    result = checker.check(flat, 50.0, output + 100.0, flat.shape, integer_counts=True)
    assert result.flagged  # structure shown on a frame that has none
    assert np.isfinite(result.map).all() and float(np.abs(result.map).max()) < 1e4


def test_blank_frames_use_up_the_calibration_attempts() -> None:
    rng = np.random.default_rng(11)
    checker = ConsistencyChecker(ConfidenceSettings(), input_fwhm_nm=250.0)
    physical = checker.blur_nm
    for _ in range(5):  # nothing to fit the re-blur width on
        blank = 100.0 + rng.poisson(20.0, (SIZE, SIZE)).astype(np.float64)
        checker.check(blank, 50.0, np.full((SIZE, SIZE), 120.0), blank.shape)
    frame, output = _scene()
    checker.check(frame, 50.0, output, frame.shape)
    assert checker.blur_nm == physical  # no fit on the sixth frame: the width stays physical
