import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from tcan_live.model import FFTSpectrum, MatmulSpectrum
from tcan_live.model.dfcan import FourierChannelAttention
from tcan_live.model.spectrum import (
    dft_factors,
    factored_dft_operands,
    shifted_dft_matrices,
    spectrum_multiply_adds,
)


# Factored lengths (16 = 4 x 4, 20 = 4 x 5, 576 = 24 x 24), direct ones (37 prime, 6 too small)
# and mixtures of both on the two axes.
@pytest.mark.parametrize(
    "shape",
    [(2, 3, 16, 16), (1, 4, 33, 20), (1, 2, 256, 256), (1, 2, 37, 576), (1, 1, 6, 37)],
)
def test_fft_and_matmul_agree(shape: tuple[int, ...]) -> None:
    features = torch.randn(*shape) * 3.0
    a = FFTSpectrum(0.8)(features)
    b = MatmulSpectrum(0.8)(features)
    assert a.dtype == b.dtype == torch.float32
    relative = (a - b).abs().max() / a.abs().max()
    assert relative < 1e-4


def test_matmul_matrices_fold_in_fftshift() -> None:
    n = 9
    cos, sin = shifted_dft_matrices(n)
    x = np.random.default_rng(0).normal(size=n)
    expected = np.fft.fftshift(np.fft.fft(x, norm="ortho"))
    got = cos @ x - 1j * (sin @ x)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_factors_are_balanced_or_none() -> None:
    assert dft_factors(576) == (24, 24)
    assert dft_factors(320) == (16, 20)
    assert dft_factors(37) is None and dft_factors(6) is None  # prime; factors below 4
    assert dft_factors(4 * 97) == (4, 97)


@pytest.mark.parametrize(("n", "a"), [(12, 4), (20, 4), (45, 5)])
def test_factored_dft_matches_numpy_on_complex_input(n: int, a: int) -> None:
    # Rebuild the three steps from the constants in numpy, for a complex vector.
    c = factored_dft_operands(n, a)
    b = n // a
    rng = np.random.default_rng(n)
    x = rng.normal(size=n) + 1j * rng.normal(size=n)
    grid = x.reshape(a, b)
    first = c["first"] @ np.concatenate([grid.real, grid.imag], axis=0)
    y = first[:a] + 1j * first[a:]
    y = y * (c["twiddle_cos"] - 1j * c["twiddle_sin"])
    second = np.concatenate([y.real, y.imag], axis=1) @ c["second"]
    z = (second[:, :b] + 1j * second[:, b:]).reshape(n)[c["order"]]
    np.testing.assert_allclose(z, np.fft.fftshift(np.fft.fft(x, norm="ortho")), atol=1e-5)


def test_factoring_makes_large_tiles_cheap() -> None:
    # Direct matrices: 4 W + 8 H multiply-adds per pixel (6912 at 576 px).
    assert spectrum_multiply_adds(37, 37) == 4 * 37 + 8 * 37
    assert spectrum_multiply_adds(576, 576) == (2 * 24 + 4 * 24 + 4) + (4 * 24 + 4 * 24 + 4)
    assert spectrum_multiply_adds(576, 576) < 0.1 * (4 * 576 + 8 * 576)
    assert spectrum_multiply_adds(576, 576) < 1.5 * spectrum_multiply_adds(320, 320)


def test_spectrum_is_float32_and_finite_for_fp16_features() -> None:
    features = torch.full((1, 2, 512, 512), 65000.0, dtype=torch.float16)
    for spectrum in (FFTSpectrum(0.8), MatmulSpectrum(0.8)):
        out = spectrum(features)
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
    gate = FourierChannelAttention(2, 1, 0.8, "matmul").half()(features)
    assert gate.dtype == torch.float16 and torch.isfinite(gate).all()


def _texture(size: int, seed: int) -> torch.Tensor:
    # The same stationary structure (blurred noise, fixed correlation length) at two sizes.
    noise = np.random.default_rng(seed).normal(size=(size, size))
    image = 1.0 + gaussian_filter(noise, 2.0) * 5.0
    return torch.from_numpy(image).float()[None, None]


@pytest.mark.parametrize("spectrum", [FFTSpectrum(0.8), MatmulSpectrum(0.8)])
def test_spectrum_magnitude_does_not_grow_with_tile_size(spectrum: torch.nn.Module) -> None:
    # Edge leakage of non-periodic tiles is relatively larger at 128 px, hence 20 %.
    small = np.mean([spectrum(_texture(128, seed)).mean().item() for seed in (1, 2, 3)])
    large = np.mean([spectrum(_texture(512, seed)).mean().item() for seed in (1, 2, 3)])
    assert abs(large / small - 1.0) < 0.2
    # An unnormalised transform would differ by (512 / 128) ** gamma, about 3x.
    unnormalised = lambda x: torch.fft.fft2(x).abs().pow(0.8).mean().item()  # noqa: E731
    assert unnormalised(_texture(512, 2)) / unnormalised(_texture(128, 1)) > 2.5
