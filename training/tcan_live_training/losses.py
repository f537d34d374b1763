"""Training losses of the TCAN GAN (Huang et al. 2023) and the validation metrics.

Generator: pixel loss (MSE or L1) + w_ssim (1 - SSIM) + w_adv BCE(D(G(x)) - D(y), 1), the
relativistic adversarial term. Discriminator: 1/2 [BCE(D(G(x)) - D(y), 0) + BCE(D(y) - D(G(x)), 1)].
All losses are computed in float32, also under autocast.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Wang et al. 2004 stabilisers for a data range of 1.
_K1, _K2 = 0.01, 0.03


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """Return a normalised 2-D Gaussian window (1, 1, size, size), float32."""
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    profile = torch.exp(-(coords**2) / (2 * sigma**2))
    profile = profile / profile.sum()
    return torch.outer(profile, profile)[None, None]


def ssim(
    prediction: torch.Tensor,
    target: torch.Tensor,
    *,
    window: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
) -> torch.Tensor:
    """Differentiable mean SSIM of (N, 1, H, W) images with a Gaussian window.

    Local means, variances and covariance are Gaussian-weighted over the valid region (no
    padding), as in Wang et al. 2004; the result is the mean over pixels and images.
    """
    kernel = gaussian_window(window, sigma).to(prediction.device)
    x, y = prediction.float(), target.float()
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    mu_x, mu_y = F.conv2d(x, kernel), F.conv2d(y, kernel)
    var_x = F.conv2d(x * x, kernel) - mu_x**2
    var_y = F.conv2d(y * y, kernel) - mu_y**2
    cov = F.conv2d(x * y, kernel) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (numerator / denominator).mean()


def reblur(image: torch.Tensor, sigma_px: float, scale: int) -> torch.Tensor:
    """Bin (N, 1, H, W) output to the input grid (mean of ``scale`` x ``scale``), then blur.

    The Gaussian of ``sigma_px`` input pixels stands for the input's PSF less the target's
    (as the SQUIRREL error map fits it); borders are reflected.
    """
    x = image.float()
    if scale > 1:
        x = F.avg_pool2d(x, scale)
    half = max(1, math.ceil(3 * sigma_px))
    coords = torch.arange(-half, half + 1, dtype=torch.float32, device=x.device)
    profile = torch.exp(-(coords**2) / (2 * sigma_px**2))
    profile = profile / profile.sum()
    padded = F.pad(x, (half, half, half, half), mode="reflect")
    rows = F.conv2d(padded, profile.view(1, 1, -1, 1))
    return F.conv2d(rows, profile.view(1, 1, 1, -1))


def physics_loss(
    output: torch.Tensor, target: torch.Tensor, sigma_px: float, scale: int
) -> torch.Tensor:
    """MSE between the re-blurred output and the re-blurred target (the noise-free input).

    Blurred to the input's resolution, an output that is linear in the input's units must
    reproduce what the input measured; the re-blurred target is that noise-free input
    (the target is in the input's units), so the input's own noise is never a target.
    """
    return F.mse_loss(reblur(output, sigma_px, scale), reblur(target, sigma_px, scale))


def pixel_loss(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared (``"mse"``) or absolute (``"l1"``) error, in float32."""
    if kind == "mse":
        return F.mse_loss(prediction.float(), target.float())
    if kind == "l1":
        return F.l1_loss(prediction.float(), target.float())
    raise ValueError(f"unknown pixel loss {kind!r}; expected 'mse' or 'l1'")


def _bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def generator_adversarial_loss(
    fake_logits: torch.Tensor, real_logits: torch.Tensor
) -> torch.Tensor:
    """Relativistic generator term: BCE(D(G(x)) - D(y), 1)."""
    return _bce(fake_logits - real_logits, 1.0)


def discriminator_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Return the paper's discriminator loss.

    1/2 [BCE(D(G(x)) - D(y), 0) + BCE(D(y) - D(G(x)), 1)].
    """
    return 0.5 * (_bce(fake_logits - real_logits, 0.0) + _bce(real_logits - fake_logits, 1.0))


def psnr_from_mse(mse: float, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB for a mean squared error (peak = ``data_range``)."""
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range**2 / mse)
