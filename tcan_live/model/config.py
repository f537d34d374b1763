"""Architecture and normalisation descriptions, stored inside every checkpoint and engine.

They are frozen pydantic models so that a checkpoint's JSON metadata round-trips exactly and an
unknown or misspelt field is refused with the field's name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tcan_live.core.settings import FrozenModel

Branch = Literal["unet", "dfcan"]
Preset = Literal["paper", "small", "dfcan", "unet"]
SpectrumKind = Literal["fft", "matmul"]


class NormalizationSpec(FrozenModel):
    """How raw intensities are mapped to the network's input range.

    The value at ``low_percentile`` maps to 0 and the value at ``high_percentile`` to 1; the
    network's output is mapped back with the same two numbers, so results stay on the input's
    intensity scale.

    ``noise_floor`` (0: off, the behaviour of engines from before the field existed) keeps the
    photon scale: the spread ``high - low`` is at least ``noise_floor`` times the frame's own
    noise sigma (:func:`tcan_live.metrics.noise.noise_sigma`). Without it a frame of pure noise
    is stretched to the range of a real image, and the network cannot tell the two apart.
    """

    method: Literal["percentile"] = "percentile"
    low_percentile: float = Field(1.0, ge=0.0, lt=100.0)
    high_percentile: float = Field(99.8, gt=0.0, le=100.0)
    clip: bool = False
    noise_floor: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> NormalizationSpec:
        if self.low_percentile >= self.high_percentile:
            raise ValueError(
                f"low_percentile ({self.low_percentile}) must be below "
                f"high_percentile ({self.high_percentile})"
            )
        return self


class GeneratorConfig(FrozenModel):
    """Everything needed to rebuild a generator's architecture (not its weights).

    The spectrum implementation (``fft`` or ``matmul``) is deliberately not part of it: both
    give the same numbers from the same weights, so it is chosen where the model is built.
    """

    preset: str = "paper"
    branches: tuple[Branch, ...] = ("unet", "dfcan")
    scale: Literal[1, 2] = 1
    stem_channels: int = Field(32, ge=1)
    unet_base: int = Field(32, ge=1)
    unet_depth: int = Field(4, ge=1, le=6)
    dfcan_features: int = Field(64, ge=1)
    dfcan_groups: int = Field(5, ge=1)
    dfcan_blocks_per_group: int = Field(2, ge=1)
    attention_reduction: int = Field(16, ge=1)
    gamma: float = Field(0.8, gt=0.0)
    negative_slope: float = Field(0.1, ge=0.0)

    @model_validator(mode="after")
    def _has_branch(self) -> GeneratorConfig:
        if not self.branches or len(set(self.branches)) != len(self.branches):
            raise ValueError("branches must name 'unet' and/or 'dfcan', each at most once")
        return self

    @property
    def size_multiple(self) -> int:
        """Input side lengths are padded internally to a multiple of this."""
        return 2**self.unet_depth if "unet" in self.branches else 1


class DiscriminatorConfig(FrozenModel):
    """The paper's CNN discriminator: conv, five double-conv blocks, three dense layers."""

    in_channels: int = Field(1, ge=1)
    base: int = Field(32, ge=1)
    blocks: int = Field(5, ge=1)
    max_channels: int = Field(256, ge=1)
    dense: tuple[int, int] = (256, 64)
    pooled_size: int = Field(4, ge=1)
    negative_slope: float = Field(0.1, ge=0.0)
    # "leaky-kaiming": He-normal weights for the LeakyReLU slope, zero biases. torch's default
    # init shrinks the signal through the 11 convolutions and 4 poolings until the logit no
    # longer depends on the image (measured: 5e-8 apart for two random images), so a
    # discriminator trained at a low rate never starts learning. "torch-default" reproduces
    # runs from before this field existed (the shipped *-small engines among them).
    init: Literal["leaky-kaiming", "torch-default"] = "leaky-kaiming"


_PRESETS: dict[str, dict[str, object]] = {
    # Huang et al. 2023: U-net 32..512, DFCAN 64 features, 5 groups x 2 FCAB.
    "paper": {},
    # About 1 s per 512 x 512 frame on 2 CPU cores (measured: see README, `tcan-live model-info`).
    "small": {
        "stem_channels": 16,
        "unet_base": 8,
        "dfcan_features": 16,
        "dfcan_groups": 3,
        "attention_reduction": 4,
    },
    # Lineage baselines at the paper's sizes: DFCAN alone (Qiao et al. 2021), U-net alone
    # (Wang et al. 2019).
    "dfcan": {"branches": ("dfcan",)},
    "unet": {"branches": ("unet",)},
}


def preset_names() -> tuple[str, ...]:
    """Return the names of the built-in generator presets."""
    return tuple(_PRESETS)


def generator_config(preset: str = "paper", scale: int = 1, **overrides: object) -> GeneratorConfig:
    """Return the configuration of a named preset, optionally with fields overridden.

    Parameters
    ----------
    preset
        One of :func:`preset_names`.
    scale
        Output pixels per input pixel along each axis (1: confocal -> STED, 2: widefield -> SIM).
    **overrides
        Any :class:`GeneratorConfig` field, e.g. ``branches=("dfcan",)`` for an ablation.
    """
    if preset not in _PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(_PRESETS)}")
    fields = {"preset": preset, "scale": scale, **_PRESETS[preset], **overrides}
    return GeneratorConfig.model_validate(fields)
