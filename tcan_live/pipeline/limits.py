"""The pipeline's memory and batching limits: the ``[performance]`` section of the config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tcan_live.core.settings import FrozenModel

EnhanceOrder = Literal["acquisition", "newest-first"]


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
    order
        ``acquisition``: frames are enhanced in the order they arrived. ``newest-first``: when
        the engine is slower than the camera, the newest frame not yet shown is enhanced next
        (alone), so the preview stays live; the others wait in the durable backlog and are
        enhanced in order whenever no newer frame is due, and their previews, older than what
        was shown, are not sent. Every frame is still stored and enhanced exactly once.
    preview_interval_s
        With ``newest-first``: at most one preview frame jumps the queue per this interval
        (0: whenever one is due); the time between goes to the backlog.
    """

    max_frames_in_memory: int = Field(32, ge=1, le=100_000)
    batch_frames: int = Field(4, ge=1, le=1024)
    qc_every: int = Field(10, ge=0)
    order: EnhanceOrder = "acquisition"
    preview_interval_s: float = Field(0.0, ge=0.0, le=3600.0)
