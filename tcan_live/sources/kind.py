"""What defines a kind of source: its settings model, how it is built, and what it can do.

A kind is one module (settings + source class + a :class:`SourceKind`) and one entry in
:mod:`tcan_live.sources.registry`; the daemon, its config and the command line learn everything
else from the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import Field

from tcan_live.core.acquisition import FrameKey
from tcan_live.core.frame_check import MAX_TIME_INDEX, PIXEL_SIZE_RANGE_NM
from tcan_live.core.settings import FrozenModel
from tcan_live.sources.protocol import ErrorCallback, FrameSource

if TYPE_CHECKING:
    from pymmcore_plus import CMMCorePlus

PixelSizeNm = Annotated[float, Field(ge=PIXEL_SIZE_RANGE_NM[0], le=PIXEL_SIZE_RANGE_NM[1])]


class SourceSettings(FrozenModel):
    """The ``[source]`` fields every kind has; each kind's model adds its own."""

    kind: str
    pixel_size_nm: PixelSizeNm | None = None
    """Overrides the pixel size the frames carry (nm)."""
    default_channel: str = Field("default", min_length=1)
    """Channel name of frames acquired without one."""
    max_time_index: int = Field(MAX_TIME_INDEX, ge=1, le=10**9)
    """Frames with a time index at or above this are refused (a stray number in a name)."""


@dataclass(frozen=True)
class SourceContext:
    """What the daemon hands a source when it builds one.

    Attributes
    ----------
    core
        The pymmcore-plus core whose MDA runs feed an in-process source (None otherwise).
    on_error
        Receives one line per problem (logged when None).
    skip_keys
        (t, channel) pairs an earlier run already stored: never delivered again.
    skip_origins
        Origins (file and position) of frames an earlier run stored: never taken again.
    exclude
        Folders a source that reads files must never read: the daemon's own output, which
        may lie inside a watched folder.
    first_run
        The first run number free in the output: a source that starts new acquisitions
        (Micro-Manager MDAs) numbers them from here, so they never collide with earlier ones.
    """

    core: CMMCorePlus | None = None
    on_error: ErrorCallback | None = None
    skip_keys: frozenset[FrameKey] = field(default_factory=frozenset)
    skip_origins: frozenset[str] = field(default_factory=frozenset)
    exclude: frozenset[Path] = field(default_factory=frozenset)
    first_run: int = 0

    @classmethod
    def of(
        cls,
        *,
        core: CMMCorePlus | None = None,
        on_error: ErrorCallback | None = None,
        skip_keys: Iterable[FrameKey] = (),
        skip_origins: Iterable[str] = (),
        exclude: Iterable[Path] = (),
        first_run: int = 0,
    ) -> SourceContext:
        """Build a context from any iterables of keys, origins and folders."""
        return cls(
            core,
            on_error,
            frozenset(skip_keys),
            frozenset(skip_origins),
            frozenset(exclude),
            first_run,
        )


Settings = TypeVar("Settings", bound=SourceSettings)


@dataclass(frozen=True)
class SourceKind(Generic[Settings]):
    """One kind of source.

    Attributes
    ----------
    name
        The ``source.kind`` value.
    settings
        Its settings model (a :class:`SourceSettings` subclass with ``kind: Literal[name]``).
    build
        Makes the (unstarted) source from validated settings and the daemon's context.
    in_process
        The source is a hook inside the acquisition's own process (a Micro-Manager script):
        the command line cannot serve it.
    finite
        The source ends by itself (``finished``); the daemon then enhances everything and stops.
    one_pass
        The source can take what is there now and return (``run_once``, ``--once``).
    """

    name: str
    settings: type[Settings]
    build: Callable[[Settings, SourceContext], FrameSource]
    in_process: bool = False
    finite: bool = False
    one_pass: bool = False

    def make(self, settings: Any, context: SourceContext) -> FrameSource:
        """Build the source from settings of this kind."""
        if not isinstance(settings, self.settings):
            raise TypeError(f"settings {type(settings).__name__} are not {self.name!r} settings")
        return self.build(settings, context)
