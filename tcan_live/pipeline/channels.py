"""Per-channel settings of the daemon: which engine, colour and normalisation."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tcan_live.channels import default_color, is_color
from tcan_live.runtime.enhancer import OutputDtype
from tcan_live.runtime.normalize import NormalizationMode


class ChannelConfig(BaseModel):
    """How one acquisition channel is super-resolved and shown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Path = Field(description="Engine folder (manifest.json + model files).")
    color: str | None = Field(None, description="Display colour RRGGBB; default by name.")
    normalization: NormalizationMode = "running"
    fixed_range: tuple[float, float] | None = None
    running_frames: float = Field(5.0, ge=1.0)
    output_dtype: OutputDtype = "float32"

    @field_validator("color")
    @classmethod
    def _hex_colour(cls, value: str | None) -> str | None:
        if value is not None and not is_color(value):
            raise ValueError(f"{value!r} is not a colour; expected six hex digits RRGGBB")
        return value.upper() if value else value


def channel_color(name: str, config: ChannelConfig, index: int) -> str:
    """Return a channel's display colour: configured, else by structure name, else by order."""
    return config.color or default_color(name, index)
