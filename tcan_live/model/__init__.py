"""The TCAN network, written once and shared by the trainer, engine builder and runtime."""

from __future__ import annotations

from tcan_live.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from tcan_live.model.config import (
    DiscriminatorConfig,
    GeneratorConfig,
    NormalizationSpec,
    generator_config,
    preset_names,
)
from tcan_live.model.discriminator import Discriminator
from tcan_live.model.generator import TCANGenerator, generator_from_architecture
from tcan_live.model.spectrum import FFTSpectrum, MatmulSpectrum


def build_generator(
    preset: str = "paper", scale: int = 1, spectrum: str = "fft", **overrides: object
) -> TCANGenerator:
    """Build a TCAN generator (random weights) from a named preset.

    Parameters
    ----------
    preset
        ``"paper"``, ``"small"``, ``"dfcan"`` (DFCAN-only) or ``"unet"`` (U-net-only).
    scale
        1 (confocal -> STED, same grid) or 2 (widefield -> SIM style).
    spectrum
        ``"fft"`` (torch.fft) or ``"matmul"`` (DFT as matrix products, ONNX/TensorRT-friendly).
    **overrides
        Fields of :class:`GeneratorConfig` to change, e.g. ``branches=("unet",)``.

    Returns
    -------
    TCANGenerator
        Maps float (N, 1, H, W) to (N, 1, scale * H, scale * W).
    """
    if spectrum not in ("fft", "matmul"):
        raise ValueError(f"unknown spectrum {spectrum!r}; expected 'fft' or 'matmul'")
    config = generator_config(preset, scale, **overrides)
    return TCANGenerator(config, spectrum=spectrum)  # type: ignore[arg-type]


def build_discriminator(config: DiscriminatorConfig | None = None) -> Discriminator:
    """Build the paper's discriminator (one logit per image)."""
    return Discriminator(config)


__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointMeta",
    "Discriminator",
    "DiscriminatorConfig",
    "FFTSpectrum",
    "GeneratorConfig",
    "MatmulSpectrum",
    "NormalizationSpec",
    "TCANGenerator",
    "generator_from_architecture",
    "build_discriminator",
    "build_generator",
    "generator_config",
    "load_checkpoint",
    "preset_names",
    "read_checkpoint_meta",
    "save_checkpoint",
]
