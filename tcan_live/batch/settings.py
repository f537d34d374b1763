"""What a ``tcan-live batch`` run is asked to do: input, output, engines, mapping, normalisation."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from tcan_live.core.settings import ConfigPath, FrozenModel
from tcan_live.runtime.enhancer import OutputDtype
from tcan_live.runtime.normalize import NormalizationMode
from tcan_live.sources.files.mapping import FileMappingSettings, FrameMapper


class BatchSettings(FrozenModel):
    """One batch run (validated; every field refused by name when wrong).

    Attributes
    ----------
    input
        The dataset (see :func:`tcan_live.batch.datasets.open_dataset`).
    output
        The OME-Zarr store written (or completed, when it exists from an earlier run).
    engine
        Engine folder for every channel without an entry in ``engine_for``.
    engine_for
        Channel name -> engine folder.
    mapping
        How frames are named and sized: the daemon's file-source fields (``pattern``,
        ``channel_aliases``, ``default_channel``, ``pixel_size_nm``; ``kind`` is ``batch``).
    normalization, fixed_range, fixed_frames, running_frames
        The stream normalisation of each channel, exactly as the daemon's (``fixed`` and
        ``running`` first measure the frames they need, then every frame gets the range a
        sequential stream would give it).
    output_dtype
        ``float32`` or ``uint16``.
    frames_per_task
        Frames one task enhances together (their tiles share batches).
    fsync
        Force every chunk and journal line to disk before it counts.
    engine_threads
        CPU threads of each worker's engine (None: the physical cores / the worker's tasks).
    """

    input: ConfigPath
    output: ConfigPath
    engine: ConfigPath | None = None
    engine_for: dict[str, ConfigPath] = Field(default_factory=dict)
    mapping: FileMappingSettings = FileMappingSettings(kind="batch")
    normalization: NormalizationMode = "per-frame"
    fixed_range: tuple[float, float] | None = None
    fixed_frames: int = Field(5, ge=1)
    running_frames: float = Field(5.0, ge=1.0)
    output_dtype: OutputDtype = "float32"
    frames_per_task: int = Field(1, ge=1, le=1024)
    fsync: bool = True
    engine_threads: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> BatchSettings:
        if self.engine is None and not self.engine_for:
            raise ValueError("engine: give an engine folder (or one per channel)")
        if self.fixed_range is not None:
            if self.normalization != "fixed":
                raise ValueError("fixed_range: only with normalization = 'fixed'")
            low, high = self.fixed_range
            if not high > low:
                raise ValueError(f"fixed_range: expected low < high, got {low:g}, {high:g}")
        return self

    def mapper(self) -> FrameMapper:
        """Return the mapper that names and sizes this run's frames (origins ``batch:...``).

        Without an engine for every channel, frames of channels without one are refused.
        """
        known = tuple(self.engine_for) if self.engine is None else self.mapping.channels
        return self.mapping.model_copy(update={"channels": known}).mapper()

    def engines(self, channels: tuple[str, ...]) -> dict[str, Path]:
        """Return the engine folder of each channel.

        Raises
        ------
        ValueError
            A channel has no engine.
        """
        missing = [c for c in channels if c not in self.engine_for and self.engine is None]
        if missing:
            raise ValueError(
                f"{self.input}: channels {missing} have no engine; give --engine-for "
                f"{missing[0]}=ENGINE or --engine for every channel"
            )
        return {c: self.engine_for.get(c) or self.engine for c in channels}  # type: ignore[misc]
