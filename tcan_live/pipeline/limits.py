"""The pipeline's memory and batching limits: the ``[performance]`` section of the config."""

from __future__ import annotations

from pydantic import Field

from tcan_live.core.settings import FrozenModel


class PipelineLimits(FrozenModel):
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

    max_frames_in_memory: int = Field(32, ge=1, le=100_000)
    batch_frames: int = Field(4, ge=1, le=1024)
    qc_every: int = Field(10, ge=0)
