"""DFCAN branch (Qiao et al. 2021): Fourier channel attention blocks in residual groups."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from tcan_live.model.blocks import ConvBlock, upsample_nearest
from tcan_live.model.spectrum import make_spectrum


class FourierChannelAttention(nn.Module):
    """Channel gate from the feature spectrum, as in DFCAN's FCA layer.

    ``sigmoid(Conv1x1(ReLU(Conv1x1(GAP(ReLU(Conv3x3(|F(y)|^gamma)))))))``, one weight per
    channel. The whole gate runs in float32, because the spectrum's range does not fit fp16; the
    gate itself lies in (0, 1) and is returned in the features' dtype.
    """

    def __init__(self, channels: int, reduction: int, gamma: float, spectrum: str) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.spectrum = make_spectrum(spectrum, gamma)
        self.spectral_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    @staticmethod
    def _conv32(conv: nn.Conv2d, x: torch.Tensor, padding: int) -> torch.Tensor:
        bias = None if conv.bias is None else conv.bias.float()
        return F.conv2d(x, conv.weight.float(), bias, padding=padding)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Return the per-channel gate (N, C, 1, 1) for features ``y``."""
        device_type = y.device.type
        # Under AMP the convolutions below would silently drop back to fp16/bf16.
        no_autocast = (
            torch.autocast(device_type, enabled=False)
            if torch.is_autocast_enabled(device_type)
            else contextlib.nullcontext()
        )
        with no_autocast:
            spec = self.spectrum(y)
            w = F.relu(self._conv32(self.spectral_conv, spec, padding=1))
            w = w.mean(dim=(-2, -1), keepdim=True)
            w = F.relu(self._conv32(self.reduce, w, padding=0))
            w = torch.sigmoid(self._conv32(self.expand, w, padding=0))
        return w.to(y.dtype)


class FCAB(nn.Module):
    """Fourier channel attention block: ``y + y_o * gate(y_o)``, ``y_o`` two conv + GELU."""

    def __init__(self, channels: int, reduction: int, gamma: float, spectrum: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(channels, channels, "gelu"), ConvBlock(channels, channels, "gelu")
        )
        self.attention = FourierChannelAttention(channels, reduction, gamma, spectrum)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        y_o = self.body(y)
        return y + y_o * self.attention(y_o)


class ResidualGroup(nn.Module):
    """Several FCABs with a skip connection around them."""

    def __init__(
        self, channels: int, blocks: int, reduction: int, gamma: float, spectrum: str
    ) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(FCAB(channels, reduction, gamma, spectrum) for _ in range(blocks))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the group."""
        return x + self.blocks(x)


class DFCANBranch(nn.Module):
    """Conv + GELU, residual groups, conv + GELU, nearest upsampling, conv to one channel."""

    def __init__(
        self,
        in_channels: int,
        features: int,
        groups: int,
        blocks_per_group: int,
        reduction: int,
        gamma: float,
        scale: int,
        spectrum: str,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.head = ConvBlock(in_channels, features, "gelu")
        self.groups = nn.Sequential(
            *(
                ResidualGroup(features, blocks_per_group, reduction, gamma, spectrum)
                for _ in range(groups)
            )
        )
        self.tail = ConvBlock(features, features, "gelu")
        self.out = nn.Conv2d(features, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map stem features (N, C, H, W) to one channel at ``scale`` times the size."""
        features = self.tail(self.groups(self.head(x)))
        return self.out(upsample_nearest(features, self.scale))
