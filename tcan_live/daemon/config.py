"""The daemon's configuration, one TOML file (commented examples: ``config/*.toml``).

Sections: source, channels, output, preview, confidence, performance. Each section's model
lives with the part it configures (the source kinds in :mod:`tcan_live.sources`, ``[output]``
with the store, ``[preview]`` with the publisher, ``[confidence]`` with the runtime,
``[performance]`` with the pipeline); the channels and the whole document are defined here.

Relative paths in the file are resolved against the file's folder, so a config works from any
working directory. Every problem is reported on its own line naming the file and the dotted
field, e.g. ``config/x.toml: channels.actin.engine: no engine folder at engines/acti``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from tcan_live.core.colors import default_color, is_color
from tcan_live.core.settings import ConfigError, ConfigPath, FrozenModel, validate_settings
from tcan_live.pipeline.limits import PipelineLimits
from tcan_live.preview.config import PreviewConfig
from tcan_live.runtime.confidence import ConfidenceSettings
from tcan_live.runtime.enhancer import OutputDtype
from tcan_live.runtime.normalize import NormalizationMode
from tcan_live.sinks.config import OutputConfig
from tcan_live.sources.registry import SourceConfig


class ChannelConfig(FrozenModel):
    """How one acquisition channel is super-resolved and shown (``[channels.NAME]``)."""

    engine: ConfigPath = Field(description="Engine folder (manifest.json + model files).")
    color: str | None = Field(None, description="Display colour RRGGBB; default by name.")
    normalization: NormalizationMode = "running"
    fixed_range: tuple[float, float] | None = None
    running_frames: float = Field(5.0, ge=1.0)
    output_dtype: OutputDtype = "float32"

    @field_validator("fixed_range")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"[{value[0]:g}, {value[1]:g}]: expected [low, high] with low < high")
        return value

    @field_validator("color")
    @classmethod
    def _hex_colour(cls, value: str | None) -> str | None:
        if value is not None and not is_color(value):
            raise ValueError(f"{value!r} is not a colour; expected six hex digits RRGGBB")
        return value.upper() if value else value


def channel_color(name: str, config: ChannelConfig, index: int) -> str:
    """Return a channel's display colour: configured, else by structure name, else by order."""
    return config.color or default_color(name, index)


class DaemonConfig(FrozenModel):
    """Everything the daemon runs with: where frames come from and where results go."""

    source: SourceConfig
    channels: dict[str, ChannelConfig] = Field(min_length=1)
    output: OutputConfig
    preview: PreviewConfig = PreviewConfig()
    confidence: ConfidenceSettings = ConfidenceSettings()
    performance: PipelineLimits = PipelineLimits()


def load_config(path: str | Path, *, check_engines: bool = True) -> DaemonConfig:
    """Read and validate a daemon config TOML file.

    Parameters
    ----------
    path
        The TOML file; relative paths inside it are resolved against its folder.
    check_engines
        Also require every channel's engine folder to exist (with its ``manifest.json``).

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or has bad fields (each named).
    """
    path = Path(path)
    origin = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(origin, [f"cannot read the config file ({error.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigError(origin, ["not a text file: expected UTF-8 TOML"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(origin, [f"not valid TOML: {error}"]) from None
    return parse_config(data, base_dir=path.parent, origin=origin, check_engines=check_engines)


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    origin: str,
    check_engines: bool = True,
) -> DaemonConfig:
    """Validate a config document (parsed TOML, or built from command-line options).

    Parameters
    ----------
    data
        The document.
    base_dir
        Folder that relative paths are resolved against.
    origin
        Names the document in errors (the file, or ``"command line"``).
    check_engines
        Also require every channel's engine folder to exist.
    """
    config = validate_settings(DaemonConfig, data, origin=origin, base_dir=base_dir)
    if check_engines:
        problems = engine_problems(config, data)
        if problems:
            raise ConfigError(origin, problems)
    return config


def engine_problems(config: DaemonConfig, written: Mapping[str, Any] | None = None) -> list[str]:
    """One line per channel whose engine folder is missing (named as written in the config)."""
    problems = []
    channels = (written or {}).get("channels", {})
    for name, channel in config.channels.items():
        if not (channel.engine / "manifest.json").is_file():
            as_written = channels.get(name, {}).get("engine", channel.engine)
            what = "no engine folder" if not channel.engine.exists() else "no manifest.json in"
            problems.append(f"channels.{name}.engine: {what} at {as_written}")
    return problems
