"""Intensity normalisation of frame streams: per-frame, fixed and running percentiles.

Every mode maps the value at the engine's low percentile to 0 and at its high percentile to 1
(the :class:`~tcan_live.model.NormalizationSpec` stored with the model); the network's output is
mapped back with the same two numbers, so results stay on the input's intensity scale.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from tcan_live.metrics.intensity import IntensityRange, percentile_range
from tcan_live.model import NormalizationSpec

NormalizationMode = Literal["per-frame", "fixed", "running"]
NORMALIZATION_MODES: tuple[NormalizationMode, ...] = get_args(NormalizationMode)


class Normalizer:
    """Chooses the intensity range of each frame of one stream (one channel).

    Parameters
    ----------
    spec
        Percentiles the model was trained with.
    mode
        ``per-frame``: each frame's own percentiles (frames are independent).
        ``fixed``: one range for the whole stream, either ``fixed_range`` or the mean of the
        first ``fixed_frames`` frames' percentiles.
        ``running``: exponentially smoothed percentiles with time constant
        ``running_frames`` frames, so noise in the per-frame estimate does not make a
        time-lapse flicker while slow changes (bleaching) are still followed.
    """

    def __init__(
        self,
        spec: NormalizationSpec,
        mode: NormalizationMode = "per-frame",
        *,
        fixed_range: tuple[float, float] | None = None,
        fixed_frames: int = 5,
        running_frames: float = 5.0,
    ) -> None:
        if mode not in NORMALIZATION_MODES:
            raise ValueError(f"normalization mode {mode!r}: expected per-frame, fixed or running")
        if fixed_frames < 1:
            raise ValueError(f"fixed_frames must be at least 1, got {fixed_frames}")
        if running_frames < 1.0:
            raise ValueError(f"running_frames must be at least 1, got {running_frames}")
        if fixed_range is not None and not fixed_range[0] < fixed_range[1]:
            raise ValueError(f"fixed_range {fixed_range}: expected (low, high) with low < high")
        self.spec = spec
        self.mode = mode
        self.fixed_frames = fixed_frames
        self._alpha = 1.0 / running_frames
        self._fixed = IntensityRange(*fixed_range) if fixed_range is not None else None
        self._seen: list[IntensityRange] = []
        self._running: IntensityRange | None = None

    def range_for(self, image: np.ndarray) -> IntensityRange:
        """Return the intensity range to use for ``image``, updating the stream's state."""
        if self.mode == "fixed" and self._fixed is not None:
            return self._fixed
        return self.follow(self.measure(image))

    def measure(self, image: np.ndarray) -> IntensityRange:
        """Return ``image``'s own percentile range; touches no state."""
        return percentile_range(image, self.spec)

    def follow(self, current: IntensityRange) -> IntensityRange:
        """Return the range for the next frame of the stream, whose own range is ``current``.

        :meth:`range_for` is ``follow(measure(image))``. Calling the two apart lets frames be
        measured anywhere (``tcan-live batch`` measures them on many workers) and followed here
        in acquisition order, giving each frame exactly the range a sequential stream would.
        """
        if self.mode == "fixed" and self._fixed is not None:
            return self._fixed
        if self.mode == "per-frame":
            return current
        if self.mode == "fixed":
            self._seen.append(current)
            pooled = IntensityRange(
                float(np.mean([r.low for r in self._seen])),
                float(np.mean([r.high for r in self._seen])),
            )
            if len(self._seen) >= self.fixed_frames:
                self._fixed = pooled
            return pooled
        previous = self._running or current
        a = self._alpha
        self._running = IntensityRange(
            (1 - a) * previous.low + a * current.low, (1 - a) * previous.high + a * current.high
        )
        return self._running
