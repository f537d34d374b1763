"""Small building blocks shared by the U-net and DFCAN branches."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBlock(nn.Sequential):
    """3 x 3 convolution followed by LeakyReLU (the paper's "conv block") or GELU."""

    def __init__(
        self, in_channels: int, out_channels: int, activation: str = "lrelu", slope: float = 0.1
    ) -> None:
        act: nn.Module = nn.LeakyReLU(slope) if activation == "lrelu" else nn.GELU()
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, padding=1), act)


def pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Zero-pad ``x`` along the channel axis to ``channels`` (for channel-growing residuals)."""
    extra = channels - x.shape[1]
    if extra == 0:
        return x
    return F.pad(x, (0, 0, 0, 0, 0, extra))


def upsample_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upsampling by an integer factor (identity for 1)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")
