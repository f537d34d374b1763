"""The Fourier spectrum used inside each attention block: ``|fftshift(FFT2(x))| ** gamma``.

Two implementations give the same numbers:

* :class:`FFTSpectrum` uses ``torch.fft`` (training and the torch runtime);
* :class:`MatmulSpectrum` writes the DFT as two real matrix products with fixed cos/sin
  matrices, which export to ONNX opsets and TensorRT 10 that have no DFT operator.

Both always compute in float32, also inside an fp16/bf16 model: the spectrum's DC term of a
bright map overflows fp16.

Scaling choice: the transform is *orthonormal* (divided by ``sqrt(H * W)``). By Parseval the mean
squared magnitude over all frequencies then equals the mean square of the feature map, whatever
the tile size, so a model trained on 256 px tiles sees attention inputs of the same range on a
512 px or 2048 px frame. (An unnormalised FFT grows with ``sqrt(H * W)`` per frequency; a
``1 / (H * W)`` scaling shrinks the non-DC terms instead.) Only the single DC bin still grows as
``sqrt(H * W)``, and after the power ``gamma`` and global average pooling its share shrinks with
size.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

# Keeps the gradient of power ** (gamma / 2) finite where the spectrum is exactly zero.
POWER_EPS = 1e-8


def _magnitude_pow(real: torch.Tensor, imag: torch.Tensor, gamma: float) -> torch.Tensor:
    return (real * real + imag * imag + POWER_EPS) ** (gamma / 2)


class FFTSpectrum(nn.Module):
    """Orthonormal, fftshifted ``|FFT2(x)| ** gamma`` via ``torch.fft`` (float32 result)."""

    def __init__(self, gamma: float = 0.8) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spectrum magnitude of each channel of ``x`` (N, C, H, W)."""
        spectrum = torch.fft.fft2(x.float(), norm="ortho")
        spectrum = torch.fft.fftshift(spectrum, dim=(-2, -1))
        return _magnitude_pow(spectrum.real, spectrum.imag, self.gamma)


@lru_cache(maxsize=32)
def shifted_dft_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal cos and sin DFT matrices of size ``n`` with fftshift folded into the rows.

    Row ``i`` holds frequency ``(i - n // 2) mod n`` so that the product is already shifted.
    The phase ``k * m mod n`` is taken in exact integer arithmetic before the float conversion,
    which keeps float32 matrices accurate for large ``n``.
    """
    rows = np.arange(n, dtype=np.int64)
    freqs = (rows - n // 2) % n
    phase = np.outer(freqs, np.arange(n, dtype=np.int64)) % n
    angle = 2.0 * np.pi * phase / n
    norm = 1.0 / np.sqrt(n)
    return (np.cos(angle) * norm).astype(np.float32), (np.sin(angle) * norm).astype(np.float32)


# Below this factor a factored transform saves too little to pay for its extra passes.
MIN_FACTOR = 4


def dft_factors(n: int) -> tuple[int, int] | None:
    """Return ``(a, b)`` with ``a * b == n`` and ``a <= b`` as close as possible, or None.

    None where ``n`` has no factor of at least :data:`MIN_FACTOR` below its square root (primes,
    small sizes): those lengths use the direct matrices.
    """
    for a in range(int(np.sqrt(n)), MIN_FACTOR - 1, -1):
        if n % a == 0:
            return a, n // a
    return None


def _phase_matrix(
    rows: np.ndarray, cols: np.ndarray, n: int, norm: float
) -> tuple[np.ndarray, np.ndarray]:
    # Exact integer phase before the float conversion, as in shifted_dft_matrices.
    angle = 2.0 * np.pi * (np.outer(rows, cols) % n) / n
    return np.cos(angle) * norm, np.sin(angle) * norm


@lru_cache(maxsize=32)
def factored_dft_operands(n: int, a: int) -> dict[str, np.ndarray]:
    """Constants of the one-level Cooley-Tukey DFT of length ``n = a * b`` (orthonormal, shifted).

    With ``m = b * m1 + m2`` and ``k = k1 + a * k2``, ``exp(-2 pi i k m / n)`` splits into an
    ``a``-point DFT over ``m1``, a twiddle ``exp(-2 pi i k1 m2 / n)`` and a ``b``-point DFT over
    ``m2``. Returned (float32): ``first_real`` (2a, a) and ``first`` (2a, 2a), the stacked first
    DFT for real and complex input; ``twiddle_cos``/``twiddle_sin`` (a, b), carrying the
    ``1 / sqrt(n)``; ``second`` (2b, 2b), the stacked second DFT (applied from the right); and
    ``order`` (n,), the gather that puts frequency ``(i - n // 2) mod n`` at position ``i``.
    """
    b = n // a
    ia, ib = np.arange(a, dtype=np.int64), np.arange(b, dtype=np.int64)
    cos_a, sin_a = _phase_matrix(ia, ia, a, 1.0)
    cos_b, sin_b = _phase_matrix(ib, ib, b, 1.0)
    twiddle_cos, twiddle_sin = _phase_matrix(ia, ib, n, 1.0 / np.sqrt(n))
    # (re + i im) times (C - i S): real part C re + S im, imaginary part C im - S re.
    first = np.block([[cos_a, sin_a], [-sin_a, cos_a]])
    second = np.block([[cos_b.T, -sin_b.T], [sin_b.T, cos_b.T]])
    freqs = (np.arange(n, dtype=np.int64) - n // 2) % n
    order = (freqs % a) * b + freqs // a  # flat index of (k1, k2) in the (a, b) result
    f32 = np.float32
    return {
        "first_real": np.concatenate([cos_a, -sin_a], axis=0).astype(f32),
        "first": first.astype(f32),
        "twiddle_cos": twiddle_cos.astype(f32),
        "twiddle_sin": twiddle_sin.astype(f32),
        "second": second.astype(f32),
        "order": order,
    }


def spectrum_multiply_adds(h: int, w: int) -> int:
    """Multiply-adds per pixel and channel of :class:`MatmulSpectrum` on an ``h`` x ``w`` map.

    Direct matrices cost ``4 w`` (real input) plus ``8 h`` (complex); a factored length
    ``a * b`` costs ``2 a + 4 b`` (real) or ``4 a + 4 b`` (complex), plus 4 for its twiddle.
    """

    def axis(n: int, complex_input: bool) -> int:
        factors = dft_factors(n)
        if factors is None:
            return 8 * n if complex_input else 4 * n
        a, b = factors
        return (4 * a if complex_input else 2 * a) + 4 * b + 4

    return axis(w, False) + axis(h, True)


class MatmulSpectrum(nn.Module):
    """Same numbers as :class:`FFTSpectrum`, computed with real matrix products only.

    Each axis is a DFT along the last dimension (the height after a transpose). A length with
    two factors ``a * b`` of at least :data:`MIN_FACTOR` takes one Cooley-Tukey step (an
    ``a``-point DFT, a twiddle, a ``b``-point DFT and a gather that also does fftshift): about
    ``2 a + 4 b`` multiply-adds per pixel instead of ``4 n``, so a 576 px tile costs about as
    much per pixel as a 320 px one. Other lengths use the direct ``n x n`` matrices. Every op
    (MatMul, Mul, Transpose, Reshape, Gather) exports to ONNX opsets and TensorRT 10, which
    have no complex DFT.
    """

    def __init__(self, gamma: float = 0.8) -> None:
        super().__init__()
        self.gamma = gamma
        # Plain attributes, not buffers: they are derived from the input size, never trained or
        # saved, and rebuilt on another device or size.
        self._constants: dict[tuple[int, str], dict[str, torch.Tensor]] = {}

    def _get(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        key = (n, str(device))
        if key not in self._constants:
            factors = dft_factors(n)
            if factors is None:
                cos, sin = shifted_dft_matrices(n)
                arrays = {"cos": cos, "sin": sin}
            else:
                arrays = factored_dft_operands(n, factors[0])
            self._constants[key] = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
        return self._constants[key]

    def _dft_last(
        self, real: torch.Tensor, imag: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Shifted orthonormal DFT along the last dimension of ``real + i imag``."""
        n = int(real.shape[-1])
        c = self._get(n, real.device)
        if "cos" in c:
            cos_t, sin_t = c["cos"].T, c["sin"].T
            if imag is None:
                return real @ cos_t, -(real @ sin_t)
            return real @ cos_t + imag @ sin_t, imag @ cos_t - real @ sin_t
        a = int(c["twiddle_cos"].shape[0])
        lead = real.shape[:-1]
        grid_real = real.reshape(*lead, a, n // a)  # [m1, m2] with m = b * m1 + m2
        if imag is None:
            first = c["first_real"] @ grid_real
        else:
            first = c["first"] @ torch.cat([grid_real, imag.reshape(*lead, a, n // a)], dim=-2)
        y_real, y_imag = first[..., :a, :], first[..., a:, :]
        t_cos, t_sin = c["twiddle_cos"], c["twiddle_sin"]
        twisted = torch.cat([y_real * t_cos + y_imag * t_sin, y_imag * t_cos - y_real * t_sin], -1)
        second = twisted @ c["second"]  # (..., a, 2b): [k1, k2] real | imaginary
        b = n // a
        order = c["order"]
        z_real = second[..., :b].reshape(*lead, n).index_select(-1, order)
        z_imag = second[..., b:].reshape(*lead, n).index_select(-1, order)
        return z_real, z_imag

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spectrum magnitude of each channel of ``x`` (N, C, H, W)."""
        real, imag = self._dft_last(x.float(), None)
        real, imag = self._dft_last(real.transpose(-1, -2), imag.transpose(-1, -2))
        return _magnitude_pow(real, imag, self.gamma).transpose(-1, -2)


def make_spectrum(kind: str, gamma: float) -> nn.Module:
    """Return the spectrum module named ``kind`` (``"fft"`` or ``"matmul"``)."""
    if kind == "fft":
        return FFTSpectrum(gamma)
    if kind == "matmul":
        return MatmulSpectrum(gamma)
    raise ValueError(f"unknown spectrum {kind!r}; expected 'fft' or 'matmul'")
