"""Parameter counts per branch and floating-point operations per input pixel."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from tcan_live.model.config import GeneratorConfig
from tcan_live.model.generator import TCANGenerator
from tcan_live.model.spectrum import MatmulSpectrum, spectrum_multiply_adds


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
    torch's FLOP counter; element-wise activations (and the spectrum's twiddles) are not
    counted. The spectrum's cost depends on the tile's factors, so the figure is quoted for a
    tile.
    """
    generator = TCANGenerator(config, spectrum="matmul").eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        generator(torch.zeros(1, 1, tile, tile))
    return counter.get_total_flops() / float(tile * tile)


def _spectrum_maps(config: GeneratorConfig, tile: int) -> list[tuple[int, int, int]]:
    """(channels, height, width) of every spectrum the generator takes on a ``tile`` input."""
    generator = TCANGenerator(config, spectrum="matmul").eval()
    shapes: list[tuple[int, int, int]] = []

    def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        channels, height, width = inputs[0].shape[-3:]
        shapes.append((int(channels), int(height), int(width)))

    for module in generator.modules():
        if isinstance(module, MatmulSpectrum):
            module.register_forward_pre_hook(record)
    with torch.inference_mode():
        generator(torch.zeros(1, 1, tile, tile))
    return shapes


def _spectrum_flops(maps: list[tuple[int, int, int]], scale: float) -> float:
    total = 0.0
    for channels, height, width in maps:
        h, w = round(height * scale), round(width * scale)
        total += 2.0 * channels * h * w * spectrum_multiply_adds(h, w)
    return total


def flops_per_pixel_at(config: GeneratorConfig, tile: int) -> float:
    """FLOPs per input pixel of a ``tile`` forward pass, without running one.

    Convolutions cost the same per pixel at any tile; the spectrum's cost per pixel depends on
    the tile's factors (:func:`~tcan_live.model.spectrum.spectrum_multiply_adds`). So one count
    at 64 px gives the convolutions, and the spectra the generator takes (their sizes follow
    the input's) are costed at ``tile`` analytically: a large forward pass takes minutes for
    the paper preset at 576 px on a loaded CPU.
    """
    probe = 64
    maps = _spectrum_maps(config, probe)
    convolutions = flops_per_input_pixel(config, probe) - _spectrum_flops(maps, 1.0) / probe**2
    return convolutions + _spectrum_flops(maps, tile / probe) / float(tile * tile)
