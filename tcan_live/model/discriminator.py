"""The CNN discriminator of Huang et al. 2023: one logit per image."""

from __future__ import annotations

import torch
from torch import nn

from tcan_live.model.config import DiscriminatorConfig


class Discriminator(nn.Module):
    """The paper's discriminator: conv, double-conv blocks, three dense layers, one logit.

    ``blocks`` double-conv + LeakyReLU blocks with 2 x 2 average pooling between them, then
    adaptive pooling to a fixed grid (so any patch size works) before the dense layers.
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or DiscriminatorConfig()
        layers: list[nn.Module] = [
            nn.Conv2d(c.in_channels, c.base, 3, padding=1),
            nn.LeakyReLU(c.negative_slope),
        ]
        channels = c.base
        for index in range(c.blocks):
            out = min(c.base * 2**index, c.max_channels)
            if index > 0:
                layers.append(nn.AvgPool2d(2))
            layers += [
                nn.Conv2d(channels, out, 3, padding=1),
                nn.LeakyReLU(c.negative_slope),
                nn.Conv2d(out, out, 3, padding=1),
                nn.LeakyReLU(c.negative_slope),
            ]
            channels = out
        layers.append(nn.AdaptiveAvgPool2d(c.pooled_size))
        self.features = nn.Sequential(*layers)
        first, second = c.dense
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * c.pooled_size**2, first),
            nn.LeakyReLU(c.negative_slope),
            nn.Linear(first, second),
            nn.LeakyReLU(c.negative_slope),
            nn.Linear(second, 1),
        )
        if c.init == "leaky-kaiming":
            for module in self.modules():
                if isinstance(module, nn.Conv2d | nn.Linear):
                    nn.init.kaiming_normal_(
                        module.weight, a=c.negative_slope, nonlinearity="leaky_relu"
                    )
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape (N,) for images (N, in_channels, H, W)."""
        return self.classifier(self.features(x)).squeeze(1)
