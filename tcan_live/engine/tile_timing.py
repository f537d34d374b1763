"""Timing an engine's tile sizes on the machine that builds it: the cost the tile choice uses.

FLOP counts rank tile sizes wrongly where precisions differ in speed per operation (OpenVINO
bf16 runs the matmul spectrum, whose FLOPs grow with the tile, far faster than fp32 does), so
an engine with several tile sizes records each one's measured seconds per computed pixel.
Runs alternate between the sizes, so a machine whose load drifts slows them alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from tcan_live.runtime.backend import InferenceBackend

TIMING_ROUNDS = 3


def seconds_per_pixel(
    backends: Mapping[int, InferenceBackend], batch: int, rounds: int = TIMING_ROUNDS
) -> dict[int, float]:
    """Return each tile size's best seconds per computed input pixel over alternating rounds.

    Parameters
    ----------
    backends
        An opened backend per tile size.
    batch
        Tiles per run (the runtime's largest batch, as it runs them).
    rounds
        Timed runs per tile size, after one warm-up run each.
    """
    inputs = {
        tile: np.random.default_rng(tile).random((batch, 1, tile, tile), dtype=np.float32)
        for tile in backends
    }
    for tile, backend in backends.items():
        backend.run(inputs[tile])  # first runs allocate and compile lazily
    best = dict.fromkeys(backends, math.inf)
    for _ in range(rounds):
        for tile, backend in backends.items():
            start = time.perf_counter()
            backend.run(inputs[tile])
            elapsed = time.perf_counter() - start
            best[tile] = min(best[tile], elapsed / (batch * tile * tile))
    return best
