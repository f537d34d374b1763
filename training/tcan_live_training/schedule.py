"""Learning-rate schedules, as pure functions of the global step (so resume needs no state)."""

from __future__ import annotations

import math
from typing import Literal


def learning_rate_factor(
    schedule: Literal["constant", "cosine"], step: int, total_steps: int, min_fraction: float
) -> float:
    """Return the factor applied to the configured learning rates at step ``step`` (0-based).

    Parameters
    ----------
    schedule
        ``"constant"`` (always 1) or ``"cosine"`` (half a cosine from 1 to ``min_fraction``).
    step
        Steps already taken in the whole run.
    total_steps
        Steps the run is configured for (epochs x steps per epoch).
    min_fraction
        The factor reached at the last step of a cosine schedule.

    Returns
    -------
    float
        A factor in ``[min_fraction, 1]``.
    """
    if schedule == "constant" or total_steps <= 1:
        return 1.0
    progress = min(step, total_steps - 1) / (total_steps - 1)
    return min_fraction + (1.0 - min_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))
