"""U-net branch (the lineage of Wang et al. 2019) with residual down blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tcan_live.model.blocks import ConvBlock, pad_channels, upsample_nearest


def _three_convs(in_channels: int, out_channels: int, slope: float) -> nn.Sequential:
    return nn.Sequential(
        ConvBlock(in_channels, out_channels, slope=slope),
        ConvBlock(out_channels, out_channels, slope=slope),
        ConvBlock(out_channels, out_channels, slope=slope),
    )


class ResidualBlock(nn.Module):
    """Three conv blocks plus the input, zero-padded in channels so that it can be added."""

    def __init__(self, in_channels: int, out_channels: int, slope: float) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.convs = _three_convs(in_channels, out_channels, slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block (same spatial size)."""
        return self.convs(x) + pad_channels(x, self.out_channels)


class UpBlock(nn.Module):
    """Nearest upsampling, concatenation with the skip, three conv blocks."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, slope: float):
        super().__init__()
        self.convs = _three_convs(in_channels + skip_channels, out_channels, slope)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample ``x`` by two and merge it with ``skip``."""
        return self.convs(torch.cat([skip, upsample_nearest(x, 2)], dim=1))


class UNetBranch(nn.Module):
    """``depth`` residual down blocks (average pooling), a bottom block, ``depth`` up blocks.

    Channels double per level from ``base`` (32 .. 512 for the paper's depth 4). The last
    convolution maps ``base`` channels to one, after nearest upsampling when ``scale`` is 2.
    """

    def __init__(self, in_channels: int, base: int, depth: int, scale: int, slope: float):
        super().__init__()
        self.scale = scale
        widths = [base * 2**level for level in range(depth + 1)]
        inputs = [in_channels, *widths[:-2]]
        self.down = nn.ModuleList(
            ResidualBlock(cin, cout, slope) for cin, cout in zip(inputs, widths[:-1], strict=True)
        )
        self.bottom = ResidualBlock(widths[-2], widths[-1], slope)
        self.up = nn.ModuleList(
            UpBlock(widths[level + 1], widths[level], widths[level], slope)
            for level in reversed(range(depth))
        )
        self.out = nn.Conv2d(base, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map stem features (N, C, H, W), H and W multiples of 2**depth, to one channel."""
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.avg_pool2d(x, 2)
        x = self.bottom(x)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            x = block(x, skip)
        return self.out(upsample_nearest(x, self.scale))
