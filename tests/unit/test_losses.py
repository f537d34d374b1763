import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from tcan_live_training.losses import (
    discriminator_loss,
    gaussian_window,
    generator_adversarial_loss,
    pixel_loss,
    psnr_from_mse,
    ssim,
)


def test_ssim_matches_scikit_image_gaussian_ssim() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 48, 48, generator=generator)
    y = (x + 0.2 * torch.rand(1, 1, 48, 48, generator=generator)).clamp(0, 1)
    reference = structural_similarity(
        x[0, 0].numpy().astype(np.float64),
        y[0, 0].numpy().astype(np.float64),
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert float(ssim(x, y)) == pytest.approx(reference, abs=1e-4)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-6)


def test_ssim_is_differentiable() -> None:
    x = torch.rand(2, 1, 32, 32, requires_grad=True)
    loss = 1.0 - ssim(x, torch.rand(2, 1, 32, 32))
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gaussian_window_is_normalised() -> None:
    window = gaussian_window(11, 1.5)
    assert window.shape == (1, 1, 11, 11)
    assert float(window.sum()) == pytest.approx(1.0)
    assert int(window.argmax()) == 5 * 11 + 5


def test_relativistic_losses_follow_the_paper() -> None:
    fake = torch.tensor([0.3, -1.0])
    real = torch.tensor([1.2, 0.5])

    def bce(z: torch.Tensor, label: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(z, torch.full_like(z, label))

    assert torch.allclose(generator_adversarial_loss(fake, real), bce(fake - real, 1.0))
    expected = 0.5 * (bce(fake - real, 0.0) + bce(real - fake, 1.0))
    assert torch.allclose(discriminator_loss(fake, real), expected)
    # a discriminator that ranks real above fake has a low loss; the generator a high one
    assert float(discriminator_loss(torch.tensor([-5.0]), torch.tensor([5.0]))) < 1e-4
    assert float(generator_adversarial_loss(torch.tensor([-5.0]), torch.tensor([5.0]))) > 9.0


def test_pixel_losses_and_psnr() -> None:
    a, b = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.5)
    assert float(pixel_loss("mse", a, b)) == pytest.approx(0.25)
    assert float(pixel_loss("l1", a, b)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown pixel loss"):
        pixel_loss("l3", a, b)
    assert psnr_from_mse(0.01) == pytest.approx(20.0)
    assert psnr_from_mse(0.0) == math.inf
