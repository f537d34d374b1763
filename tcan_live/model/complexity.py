"""Parameter counts per branch and floating-point operations per input pixel."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from tcan_live.model.config import GeneratorConfig
from tcan_live.model.generator import TCANGenerator


def parameter_counts(generator: TCANGenerator) -> dict[str, int]:
    """Return trainable parameters of the stem, each branch, the head and the total."""
    counts = {"stem": sum(p.numel() for p in generator.stem.parameters())}
    for name, branch in generator.branches.items():
        counts[name] = sum(p.numel() for p in branch.parameters())
    counts["head"] = sum(p.numel() for p in generator.head.parameters())
    counts["total"] = sum(p.numel() for p in generator.parameters())
    return counts


def flops_per_input_pixel(config: GeneratorConfig, tile: int = 256) -> float:
    """Floating-point operations per input pixel for one ``tile`` x ``tile`` forward pass.

    Counts convolutions, dense layers and the matmul spectrum (2 FLOPs per multiply-add) with
    torch's FLOP counter; element-wise activations are not counted. The matmul spectrum's cost
    grows with the tile size, so the figure is quoted for a tile.
    """
    generator = TCANGenerator(config, spectrum="matmul").eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        generator(torch.zeros(1, 1, tile, tile))
    return counter.get_total_flops() / float(tile * tile)


def flops_per_pixel_at(config: GeneratorConfig, tile: int) -> float:
    """FLOPs per input pixel of a ``tile`` forward pass, from two small tiles.

    Per pixel, convolutions cost the same at any tile and the matmul spectrum grows linearly
    with the tile side (``4 W + 8 H`` multiply-adds per pixel and channel), so two counts at
    64 and 128 px give the figure at any tile without running a large forward pass (minutes
    for the paper preset at 576 px on a loaded CPU).
    """
    small, large = flops_per_input_pixel(config, 64), flops_per_input_pixel(config, 128)
    return small + (large - small) * (tile - 64) / 64
