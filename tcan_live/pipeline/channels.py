"""Per-channel settings of the daemon: which engine, colour and normalisation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Colours of the paper's dual-colour figures: microtubules magenta, actin cyan.
DEFAULT_COLORS = {"microtubules": "FF00FF", "actin": "00FFFF"}
_FALLBACK_COLORS = ("FF00FF", "00FFFF", "FFFF00", "00FF00", "FF8000", "FFFFFF")


class ChannelConfig(BaseModel):
    """How one acquisition channel is super-resolved and shown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Path = Field(description="Engine folder (manifest.json + model files).")
    color: str | None = Field(None, description="Display colour RRGGBB; default by name.")
    normalization: Literal["per-frame", "fixed", "running"] = "running"
    fixed_range: tuple[float, float] | None = None
    running_frames: float = Field(5.0, ge=1.0)
    output_dtype: Literal["float32", "uint16"] = "float32"

    @field_validator("color")
    @classmethod
    def _hex_colour(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9A-Fa-f]{6}", value):
            raise ValueError(f"{value!r} is not a colour; expected six hex digits RRGGBB")
        return value.upper() if value else value


def channel_color(name: str, config: ChannelConfig, index: int) -> str:
    """Return a channel's display colour: configured, else by structure name, else by order."""
    if config.color:
        return config.color
    for structure, color in DEFAULT_COLORS.items():
        if structure in name.lower():
            return color
    return _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)]
