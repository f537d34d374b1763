"""The TCAN generator (Huang et al. 2023): stem -> (U-net + DFCAN, summed) -> output block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tcan_live.model.blocks import ConvBlock
from tcan_live.model.config import GeneratorConfig, SpectrumKind
from tcan_live.model.dfcan import DFCANBranch
from tcan_live.model.unet import UNetBranch


def _split(total: int) -> tuple[int, int]:
    return total // 2, total - total // 2


class TCANGenerator(nn.Module):
    """Maps float (N, 1, H, W) to (N, 1, scale * H, scale * W) for any H, W.

    Inputs whose sides are not multiples of the U-net's ``2 ** depth`` are mirror-padded (edge
    replicated when the frame is too small to mirror) and the output is cropped back.
    """

    def __init__(self, config: GeneratorConfig, spectrum: SpectrumKind = "fft") -> None:
        super().__init__()
        self.config = config
        self.spectrum_kind = spectrum
        c = config
        self.stem = ConvBlock(1, c.stem_channels, slope=c.negative_slope)
        self.branches = nn.ModuleDict()
        if "unet" in c.branches:
            self.branches["unet"] = UNetBranch(
                c.stem_channels, c.unet_base, c.unet_depth, c.scale, c.negative_slope
            )
        if "dfcan" in c.branches:
            self.branches["dfcan"] = DFCANBranch(
                c.stem_channels,
                c.dfcan_features,
                c.dfcan_groups,
                c.dfcan_blocks_per_group,
                c.attention_reduction,
                c.gamma,
                c.scale,
                spectrum,
            )
        self.head = ConvBlock(1, 1, slope=c.negative_slope)

    @property
    def scale(self) -> int:
        """Output pixels per input pixel along each axis."""
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Super-resolve a batch of single-channel images."""
        height, width = int(x.shape[-2]), int(x.shape[-1])
        multiple = self.config.size_multiple
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        top, bottom = _split(pad_h)
        left, right = _split(pad_w)
        if pad_h or pad_w:
            mirrorable = pad_h < height and pad_w < width
            mode = "reflect" if mirrorable else "replicate"
            x = F.pad(x, (left, right, top, bottom), mode=mode)
        features = self.stem(x)
        outputs = [branch(features) for branch in self.branches.values()]
        summed = outputs[0] if len(outputs) == 1 else torch.stack(outputs).sum(dim=0)
        out = self.head(summed)
        if pad_h or pad_w:
            s = self.scale
            out = out[..., s * top : s * (top + height), s * left : s * (left + width)]
        return out


def _first_mismatch(
    expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]
) -> str | None:
    missing = sorted(expected.keys() - state.keys())
    if missing:
        return f"missing tensor {missing[0]} ({len(missing)} missing)"
    unexpected = sorted(state.keys() - expected.keys())
    if unexpected:
        return f"unexpected tensor {unexpected[0]} ({len(unexpected)} unexpected)"
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            return (
                f"tensor {name} has shape {tuple(state[name].shape)}, the architecture needs "
                f"{tuple(tensor.shape)}"
            )
    return None


def generator_with_weights(
    config: GeneratorConfig, state: dict[str, torch.Tensor], spectrum: SpectrumKind = "fft"
) -> TCANGenerator:
    """Build the generator ``config`` describes and load ``state`` into it (strict).

    Raises
    ------
    ValueError
        One line naming the first mismatch when the weights do not fit the architecture.
    """
    # The architecture comes from a file's metadata: compare it with the weights on the meta
    # device (no memory) first, so a corrupt or hostile description (billions of
    # parameters) is refused before anything is allocated.
    with torch.device("meta"):
        skeleton = TCANGenerator(config, spectrum=spectrum).state_dict()
    mismatch = _first_mismatch(skeleton, state)
    if mismatch is not None:
        raise ValueError(f"weights do not fit the architecture: {mismatch}")
    generator = TCANGenerator(config, spectrum=spectrum)
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as error:
        summary = str(error).splitlines()[0]
        raise ValueError(f"weights do not fit the architecture: {summary}") from None
    return generator


def generator_from_architecture(**architecture: object) -> TCANGenerator:
    """Build a generator (random weights) from the fields of a :class:`GeneratorConfig`.

    The form a BioImage.IO package names its ``pytorch_state_dict`` architecture in: a callable
    taking plain keyword arguments (the config as JSON), rebuilt with the fft spectrum.
    """
    return TCANGenerator(GeneratorConfig.model_validate(architecture), spectrum="fft")
