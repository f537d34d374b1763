"""The ``[output]`` section of a daemon configuration."""

from __future__ import annotations

from pydantic import Field, field_validator

from tcan_live.core.settings import ConfigPath, FrozenModel


class OutputConfig(FrozenModel):
    """Where and how the OME-Zarr output is written.

    Attributes
    ----------
    path
        The store, e.g. ``OUT.zarr``; the super-resolved image is ``OUT.zarr/sr``, the raw one
        ``OUT.zarr/raw``.
    include_raw
        Keep the raw frames as an NGFF image. When off, raw frames are still kept durably until
        their super-resolved frame is written (in ``OUT.zarr/tcan_live/backlog``), then deleted.
    include_qc
        Keep each frame's consistency map (``OUT.zarr/qc``, float32 on the raw grid) when the
        channel's results are checked against their frames (``[confidence]``).
    fsync
        Force every frame and journal record to stable storage before it counts as written
        (survives power loss, at the cost of a disk flush per frame).
    time_increment_s
        Interval between time points, written to the NGFF ``t`` axis scale (none: unknown).
    z_step_nm
        Distance between z slices, written to the NGFF ``z`` axis scale. Overrides what the
        source reports (an MDA's z plan, an MMStack summary); none and unreported: unknown.
    """

    path: ConfigPath
    include_raw: bool = True
    include_qc: bool = True
    fsync: bool = True
    time_increment_s: float | None = Field(None, gt=0)
    z_step_nm: float | None = Field(None, gt=0, le=1e7)

    @field_validator("path", mode="before")
    @classmethod
    def _named(cls, value: object) -> object:
        # An empty path would mean "the config's own folder": never a store.
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path: expected the store's path, e.g. OUT.zarr")
        return value
