r"""The ``[source]`` section of the daemon config, and the factory that builds the source.

Each kind has its own frozen model (unknown or misspelt fields are refused with their name);
``kind`` selects the model::

    [source]
    kind = "watch"
    root = "/data/acquisition"
    pattern = 't(?P<t>\\d+)_(?P<c>\\w+)\\.tif$'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from tcan_live.frames import Frame
from tcan_live.sources._metadata import PIXEL_SIZE_RANGE_NM
from tcan_live.sources.base import FrameSource
from tcan_live.sources.mapping import FrameMapper

if TYPE_CHECKING:
    from pymmcore_plus import CMMCorePlus

PixelSizeNm = Annotated[float, Field(ge=PIXEL_SIZE_RANGE_NM[0], le=PIXEL_SIZE_RANGE_NM[1])]


class _SourceBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pixel_size_nm: PixelSizeNm | None = None
    """Overrides the pixel size the frames carry (nm)."""
    default_channel: str = Field("default", min_length=1)
    """Channel name of frames acquired without one."""


class PymmcorePlusSourceConfig(_SourceBase):
    """Frames from ``core.mda`` runs of a pymmcore-plus core in the same process."""

    kind: Literal["pymmcore-plus"]


class PycromanagerSourceConfig(_SourceBase):
    """Frames from a pycromanager ``Acquisition``'s ``image_process_fn``."""

    kind: Literal["pycromanager"]
    time_axis: str = "time"
    channel_axis: str = "channel"
    channel_names: tuple[str, ...] = ()
    """Names for integer channel positions (position i -> channel_names[i])."""


class _FileSourceBase(_SourceBase):
    pattern: str | None = None
    """Regex on the file's path relative to the root; named groups t (required) and c."""
    channels: tuple[str, ...] = ()
    """Known channel names; frames of any other channel are refused. Empty: accept any."""
    channel_aliases: dict[str, str] = Field(default_factory=dict)
    """Names found in files or file names -> channel names (e.g. {"0" = "microtubules"})."""

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from exc
        if "t" not in compiled.groupindex:
            raise ValueError("expected a named group (?P<t>...) for the time index")
        unknown = set(compiled.groupindex) - {"t", "c"}
        if unknown:
            raise ValueError(f"unexpected named groups {sorted(unknown)}: only t and c are used")
        return value


class WatchSourceConfig(_FileSourceBase):
    """A folder written by an acquisition: per-frame TIFFs, MMStack files, NDTiff datasets."""

    kind: Literal["watch"]
    root: Path
    recursive: bool = True
    process_existing: bool = False
    polling: bool = False
    """Use the polling observer (network shares) instead of inotify."""
    poll_interval_s: float = Field(1.0, gt=0, le=3600)
    settle_s: float = Field(1.0, ge=0, le=3600)
    """A single-frame file must stay unchanged this long before it is read (no close event)."""
    give_up_after_s: float = Field(30.0, gt=0, le=86400)
    """An unchanged file still unreadable after this long is reported as corrupt."""
    rescan_interval_s: float = Field(10.0, gt=0, le=3600)
    """The folder is listed again this often, so a missed file-system event never loses a frame."""


class ReplaySourceConfig(_FileSourceBase):
    """Finished files (TIFF, MMStack, NDTiff folders) replayed at a set rate."""

    kind: Literal["replay"]
    files: tuple[Path, ...] = Field(min_length=1)
    rate_hz: float = Field(0.0, ge=0)
    """Frames per second; 0 = as fast as possible."""
    loops: int = Field(1, ge=1)


SourceConfig = Annotated[
    PymmcorePlusSourceConfig | PycromanagerSourceConfig | WatchSourceConfig | ReplaySourceConfig,
    Field(discriminator="kind"),
]
SOURCE_KINDS = ("pymmcore-plus", "pycromanager", "watch", "replay")
_ADAPTER: TypeAdapter[SourceConfig] = TypeAdapter(SourceConfig)


class SourceConfigError(ValueError):
    """A source section that does not validate; the message names the field."""


def validation_problems(exc: ValidationError, section: str = "source") -> list[str]:
    """One line per problem: ``section.field: what was expected (got value)``.

    ``section`` prefixes every field (empty: none, for a whole document). The tag pydantic
    puts after a source section's location (its ``kind``) is left out of the field name.
    """
    kinds = ", ".join(SOURCE_KINDS)
    lines = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        source_at = 0 if section else 1  # where a source section's location starts
        if section == "" and (not location or location[0] != "source"):
            source_at = -1
        if source_at >= 0 and len(location) > source_at and location[source_at] in SOURCE_KINDS:
            del location[source_at]  # pydantic prefixes the union member's tag
        field = ".".join(part for part in [section, *location] if part)
        message = error["msg"]
        if error["type"] == "union_tag_invalid":
            field, message = f"{field}.kind", f"expected kind to be one of {kinds}"
        elif error["type"] == "union_tag_not_found":
            field, message = f"{field}.kind", f"missing kind: expected one of {kinds}"
        elif "input" in error and error["type"] not in ("missing", "extra_forbidden"):
            message = f"{message} (got {error['input']!r})"
        lines.append(f"{field}: {message}")
    return lines


def describe_validation_error(exc: ValidationError, section: str = "source") -> str:
    """All problems of ``exc`` on one line, separated by ``; `` (see validation_problems)."""
    return "; ".join(validation_problems(exc, section))


def parse_source_config(data: Mapping[str, Any], section: str = "source") -> SourceConfig:
    """Validate a source section (e.g. parsed from TOML).

    Raises
    ------
    SourceConfigError
        Naming each bad field and what was expected.
    """
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as exc:
        raise SourceConfigError(describe_validation_error(exc, section)) from None


def make_source(
    config: SourceConfig,
    *,
    core: CMMCorePlus | None = None,
    on_error: Callable[[Path, str], None] | None = None,
    skip_keys: Iterable[tuple[int, str]] = (),
    skip_origins: Iterable[str] = (),
) -> FrameSource:
    """Build the source a config describes.

    Parameters
    ----------
    config
        A validated source section.
    core
        The pymmcore-plus core whose MDA runs feed a ``pymmcore-plus`` source (required there).
    on_error
        ``on_error(path, message)`` for file problems (watch, and the pycromanager hook).
    skip_keys
        (t, channel) pairs already processed (watch: never delivered again).
    skip_origins
        Origins of frames an earlier run stored (watch: those files are not taken again).
    """
    if isinstance(config, PymmcorePlusSourceConfig):
        from tcan_live.sources.mmcore import MMCoreSource

        if core is None:
            raise SourceConfigError(
                "source.kind = 'pymmcore-plus' needs the pymmcore-plus core that runs the MDA "
                "(make_source(config, core=core))"
            )
        return MMCoreSource(
            core,
            pixel_size_nm=config.pixel_size_nm,
            default_channel=config.default_channel,
            on_error=_without_path(on_error, "pymmcore-plus"),
        )
    if isinstance(config, PycromanagerSourceConfig):
        from tcan_live.sources.pycromanager_hook import PycromanagerSource

        return PycromanagerSource(
            **config.model_dump(exclude={"kind"}), on_error=_without_path(on_error, "pycromanager")
        )
    mapper = _mapper(config)
    if isinstance(config, WatchSourceConfig):
        from tcan_live.sources.watch import WatchFolderSource

        return WatchFolderSource(
            config.root,
            mapper,
            recursive=config.recursive,
            process_existing=config.process_existing,
            polling=config.polling,
            poll_interval_s=config.poll_interval_s,
            settle_s=config.settle_s,
            give_up_after_s=config.give_up_after_s,
            rescan_interval_s=config.rescan_interval_s,
            skip_keys=skip_keys,
            skip_origins=skip_origins,
            on_error=on_error,
        )
    from tcan_live.sources.file_frames import read_file_frames
    from tcan_live.sources.replay import ReplaySource

    files = list(config.files)
    cache: list[Frame] = []

    def frames() -> Iterator[Frame]:
        # Read once, replay from memory: every loop then has the same frames and timing.
        if not cache:
            for path in files:
                cache.extend(read_file_frames(path, mapper))
        return iter(cache)

    return ReplaySource(frames, rate_hz=config.rate_hz, loops=config.loops)


def _without_path(
    on_error: Callable[[Path, str], None] | None, origin: str
) -> Callable[[str], None] | None:
    """Adapt ``on_error(path, message)`` for sources that have no file to name."""
    if on_error is None:
        return None
    return lambda message: on_error(Path(origin), message)


def _mapper(config: WatchSourceConfig | ReplaySourceConfig) -> FrameMapper:
    shared = {"pattern", "channels", "channel_aliases", "default_channel", "pixel_size_nm"}
    return FrameMapper(origin_prefix=config.kind, **config.model_dump(include=shared))
