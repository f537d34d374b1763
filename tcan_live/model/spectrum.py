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


class MatmulSpectrum(nn.Module):
    """Same numbers as :class:`FFTSpectrum`, computed with two real matrix products.

    With ``A = C - iS`` the DFT matrix, ``A_H x A_W^T`` is formed as ``[C_H; S_H] @ (x @ [C_W^T,
    S_W^T])``, whose four blocks combine into the real and imaginary parts. Cost is about
    ``4 W + 8 H`` multiply-adds per pixel and channel, so fixed moderate tiles suit it.
    """

    def __init__(self, gamma: float = 0.8) -> None:
        super().__init__()
        self.gamma = gamma
        # Plain attributes, not buffers: they are derived from the input size, never trained or
        # saved, and rebuilt on another device or size.
        self._matrices: dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def _get(self, h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (h, w, str(device))
        if key not in self._matrices:
            cos_h, sin_h = shifted_dft_matrices(h)
            cos_w, sin_w = shifted_dft_matrices(w)
            left = torch.from_numpy(np.concatenate([cos_h, sin_h], axis=0)).to(device)
            right = torch.from_numpy(np.concatenate([cos_w.T, sin_w.T], axis=1)).to(device)
            self._matrices[key] = (left, right)
        return self._matrices[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spectrum magnitude of each channel of ``x`` (N, C, H, W)."""
        h, w = int(x.shape[-2]), int(x.shape[-1])
        left, right = self._get(h, w, x.device)
        blocks = left @ (x.float() @ right)  # (N, C, 2H, 2W): [[Cp, Cq], [Sp, Sq]]
        c_p, c_q = blocks[..., :h, :w], blocks[..., :h, w:]
        s_p, s_q = blocks[..., h:, :w], blocks[..., h:, w:]
        return _magnitude_pow(c_p - s_q, c_q + s_p, self.gamma)


def make_spectrum(kind: str, gamma: float) -> nn.Module:
    """Return the spectrum module named ``kind`` (``"fft"`` or ``"matmul"``)."""
    if kind == "fft":
        return FFTSpectrum(gamma)
    if kind == "matmul":
        return MatmulSpectrum(gamma)
    raise ValueError(f"unknown spectrum {kind!r}; expected 'fft' or 'matmul'")
