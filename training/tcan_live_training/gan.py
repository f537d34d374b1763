"""One TCAN GAN: generator, discriminator, their Adam optimisers, a training step, validation."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch

from tcan_live.model import build_discriminator, build_generator
from tcan_live_training.config import TrainConfig
from tcan_live_training.losses import (
    discriminator_loss,
    generator_adversarial_loss,
    physics_loss,
    pixel_loss,
    psnr_from_mse,
    ssim,
)

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TcanGan:
    """Models and optimisers of one run, built from a :class:`TrainConfig`.

    Parameters
    ----------
    config
        The run's configuration (model, loss and optimiser sections are used).
    device
        Where to train; AMP is used only on CUDA (``training.amp``).
    """

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.loss = config.loss
        model = config.model
        self.generator = build_generator(
            model.preset, model.scale, spectrum="fft", **model.overrides
        ).to(device)
        self.discriminator = build_discriminator(model.discriminator).to(device)
        opt = config.training
        self.optimizer_g = torch.optim.Adam(
            self.generator.parameters(), lr=opt.lr_g, betas=opt.betas_g
        )
        self.optimizer_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=opt.lr_d, betas=opt.betas_d
        )
        on_cuda = device.type == "cuda"
        self.amp_dtype = _AMP_DTYPES.get(opt.amp) if on_cuda else None
        fp16 = self.amp_dtype is torch.float16
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=fp16)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=fp16)
        # What a training step calls: the models themselves, or their data-parallel wrappers.
        self._generator_step: torch.nn.Module = self.generator
        self._discriminator_step: torch.nn.Module = self.discriminator
        # The physics term's re-blur (input pixels), resolved from the data by the trainer.
        self.physics_sigma_px: float | None = None

    def data_parallel(self) -> None:
        """Average every gradient across the run's processes (``DistributedDataParallel``).

        Call once the process group is up and the weights are loaded (resume, ``--init``); the
        wrappers share the models' parameters, so checkpoints keep reading ``generator`` and
        ``discriminator``. The adversarial term of the generator step runs the discriminator
        itself (its parameters frozen), so the wrapped discriminator sees exactly one forward
        and one backward per step: its own update.
        """
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        self._generator_step = DistributedDataParallel(self.generator, device_ids=ids)
        self._discriminator_step = DistributedDataParallel(self.discriminator, device_ids=ids)

    def scale_learning_rates(self, factor: float) -> None:
        """Set both optimisers' learning rates to ``factor`` times the configured ones."""
        opt = self.config.training
        for optimizer, base in ((self.optimizer_g, opt.lr_g), (self.optimizer_d, opt.lr_d)):
            for group in optimizer.param_groups:
                group["lr"] = base * factor

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.amp_dtype is None:
            yield
        else:
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                yield

    def _content_losses(
        self, output: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pixel = pixel_loss(self.loss.pixel, output, target)
        structure = 1.0 - ssim(
            output, target, window=self.loss.ssim_window, sigma=self.loss.ssim_sigma
        )
        return pixel, structure

    def train_step(self, lr: torch.Tensor, hr: torch.Tensor, adversarial: bool) -> dict[str, float]:
        """One generator update and, in the adversarial phase, one discriminator update.

        Returns
        -------
        dict
            ``loss_g``, ``loss_pixel``, ``loss_ssim`` (1 - SSIM), ``loss_physics`` (NaN
            without the physics term), ``loss_adv`` and ``loss_d`` (NaN for the last two
            during the pixel-loss warm-up).
        """
        self.generator.train()
        self.discriminator.train()
        with self._autocast():
            fake = self._generator_step(lr)
        pixel, structure = self._content_losses(fake, hr)
        loss_g = pixel + self.loss.ssim_weight * structure
        physics = torch.tensor(math.nan)
        if self.loss.physics_weight > 0 and self.physics_sigma_px:
            physics = physics_loss(fake, hr, self.physics_sigma_px, self.config.model.scale)
            loss_g = loss_g + self.loss.physics_weight * physics
        adv = loss_d = torch.tensor(math.nan)
        if adversarial:
            self.discriminator.requires_grad_(False)
            with self._autocast():
                fake_logits = self.discriminator(fake)
                real_logits = self.discriminator(hr)
            adv = generator_adversarial_loss(fake_logits, real_logits)
            loss_g = loss_g + self.loss.adversarial_weight * adv
            self.discriminator.requires_grad_(True)
        self.optimizer_g.zero_grad(set_to_none=True)
        torch.autograd.backward(self.scaler_g.scale(loss_g))
        self.scaler_g.step(self.optimizer_g)
        self.scaler_g.update()
        if adversarial:
            with self._autocast():
                logits = self._discriminator_step(torch.cat([fake.detach(), hr]))
            fake_logits, real_logits = logits.chunk(2)
            loss_d = discriminator_loss(fake_logits, real_logits)
            self.optimizer_d.zero_grad(set_to_none=True)
            torch.autograd.backward(self.scaler_d.scale(loss_d))
            self.scaler_d.step(self.optimizer_d)
            self.scaler_d.update()
        return {
            "loss_g": float(loss_g.detach()),
            "loss_pixel": float(pixel.detach()),
            "loss_ssim": float(structure.detach()),
            "loss_physics": float(physics.detach()),
            "loss_adv": float(adv.detach()),
            "loss_d": float(loss_d.detach()),
        }

    def validate(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """Pixel loss, PSNR and SSIM of the generator on validation batches (normalised scale).

        PSNR uses the mean squared error over the whole set and a peak of 1 (the target's
        high percentile); SSIM is averaged over images.
        """
        return validation_metrics(self.validation_sums(batches))

    @torch.no_grad()
    def validation_sums(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
        """Images, and their summed pixel loss, SSIM and mean squared error (add across shards).

        Each process of a data-parallel run validates its share of the batches; the sums of
        all shards give :func:`validation_metrics` the figures of the whole set.
        """
        self.generator.eval()
        count = 0
        loss_sum = ssim_sum = squared_sum = 0.0
        for lr, hr in batches:
            lr, hr = lr.to(self.device), hr.to(self.device)
            with self._autocast():
                output = self.generator(lr)
            pixel, structure = self._content_losses(output, hr)
            images = lr.shape[0]
            count += images
            loss_sum += float(pixel) * images
            ssim_sum += (1.0 - float(structure)) * images
            squared_sum += float(torch.mean((output.float() - hr) ** 2)) * images
        return [float(count), loss_sum, ssim_sum, squared_sum]


def validation_metrics(sums: Sequence[float]) -> dict[str, float]:
    """``val_loss``, ``val_psnr`` and ``val_ssim`` from :meth:`TcanGan.validation_sums`."""
    count, loss_sum, ssim_sum, squared_sum = sums
    return {
        "val_loss": loss_sum / count,
        "val_psnr": psnr_from_mse(squared_sum / count),
        "val_ssim": ssim_sum / count,
    }
