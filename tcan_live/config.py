"""The daemon's configuration, one TOML file (commented examples: ``config/*.toml``).

Sections: source, channels, output, preview, performance.

Relative paths in the file are resolved against the file's folder, so a config works from any
working directory. Every problem is reported on its own line naming the file and the dotted
field, e.g. ``config/x.toml: channels.actin.engine: no engine folder at engines/acti``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tcan_live.pipeline.channels import ChannelConfig
from tcan_live.pipeline.daemon import PipelineLimits
from tcan_live.preview.config import PreviewConfig
from tcan_live.sinks.config import OutputConfig
from tcan_live.sources.config import SourceConfig, validation_problems

# Dotted locations of the path fields that are resolved against the config file's folder
# ("*" stands for every key of a table, "[]" for every item of a list).
_PATH_FIELDS = (
    ("source", "root"),
    ("source", "files", "[]"),
    ("channels", "*", "engine"),
    ("output", "path"),
    ("preview", "curve_secret_key_file"),
    ("preview", "curve_authorized_keys_dir"),
)


class PerformanceConfig(BaseModel):
    """Memory and batching limits of the pipeline (``[performance]``).

    Attributes
    ----------
    max_frames_in_memory
        Raw frames held in memory awaiting enhancement; beyond this the backlog is read back
        from the output store, so memory stays bounded however far inference falls behind.
    batch_frames
        Frames of one channel enhanced together (their tiles share batches).
    qc_every
        Live resolution estimate (decorrelation) every N frames per channel; 0: never.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_frames_in_memory: int = Field(32, ge=1, le=100_000)
    batch_frames: int = Field(4, ge=1, le=1024)
    qc_every: int = Field(10, ge=0)

    def limits(self) -> PipelineLimits:
        """Return the pipeline's limits."""
        return PipelineLimits(
            max_frames_in_memory=self.max_frames_in_memory,
            batch_frames=self.batch_frames,
            qc_every=self.qc_every,
        )


class DaemonConfig(BaseModel):
    """Everything the daemon runs with: where frames come from and where results go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SourceConfig
    channels: dict[str, ChannelConfig] = Field(min_length=1)
    output: OutputConfig
    preview: PreviewConfig = PreviewConfig()
    performance: PerformanceConfig = PerformanceConfig()


class ConfigError(ValueError):
    """A configuration that does not validate; one line per problem, naming file and field."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__("\n".join(f"{origin}: {problem}" for problem in problems))


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
    resolved = _resolve_paths(data, base_dir)
    try:
        config = DaemonConfig.model_validate(resolved)
    except ValidationError as error:
        raise ConfigError(origin, validation_problems(error, section="")) from None
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


def _resolve_paths(data: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """Copy ``data`` with the path fields made absolute against ``base_dir``."""
    document: dict[str, Any] = {key: _copy(value) for key, value in data.items()}
    for location in _PATH_FIELDS:
        _resolve_at(document, location, base_dir)
    return document


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _resolve_at(node: Any, location: tuple[str, ...], base_dir: Path) -> None:
    head, *rest = location
    if isinstance(node, dict) and head == "*":
        children = list(node)
    elif isinstance(node, list) and head == "[]":
        children = list(range(len(node)))
    elif isinstance(node, dict) and head in node:
        children = [head]
    else:
        return
    for key in children:
        if rest:
            _resolve_at(node[key], tuple(rest), base_dir)
        elif isinstance(node[key], str | Path):
            # normpath, not resolve: ".." is folded without following symbolic links.
            node[key] = os.path.normpath((base_dir / Path(node[key]).expanduser()).absolute())
