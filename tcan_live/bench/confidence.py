"""What the live confidence costs: the consistency check against the engine, side by side.

The same simulated frames go through one stream's enhancer with and without the check, in
alternating turns (so a busy machine slows both alike); the check's own time is also taken
alone on the results. The input guards run once per stream and are timed once.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.engine.load import load_engine
from tcan_live.runtime.confidence import ConfidenceSettings, ConsistencyChecker
from tcan_live.runtime.sampling_check import check_sampling
from tcan_live.simulate.config import SimulationConfig
from tcan_live.simulate.pair import simulate_pair


def _frames(count: int, size: int, pixel_size_nm: float) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    config = SimulationConfig(pixel_size_nm=pixel_size_nm)
    return [simulate_pair("microtubules", size, rng, config).lr for _ in range(count)]


def confidence_cost(
    engine_dir: Path,
    *,
    frames: int = 4,
    size: int = 512,
    repeats: int = 3,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Measure the consistency check's time as a fraction of the engine's, per frame.

    Returns a JSON-ready report: median seconds per frame without and with the check, the
    check alone, the ratios, and the guards' one-off time.
    """
    engine = load_engine(engine_dir)
    try:
        pixel = engine.pixel_size_nm
        images = _frames(frames, size, pixel)
        without: list[float] = []
        with_check: list[float] = []
        for turn in range(repeats):
            log(f"turn {turn + 1}/{repeats}")
            for settings, times in ((None, without), (ConfidenceSettings(), with_check)):
                enhancer = engine.enhancer(confidence=settings, sampling_guard=False)
                enhancer.enhance(images[0], pixel)  # warm-up (and calibration)
                start = time.perf_counter()
                results = [enhancer.enhance(image, pixel) for image in images]
                times.append((time.perf_counter() - start) / len(images))
        checker = ConsistencyChecker(ConfidenceSettings(), engine.manifest.get("input_fwhm_nm"))
        checker.check(images[0].astype(np.float64), pixel, results[0].image, images[0].shape)
        start = time.perf_counter()
        for image, result in zip(images, results, strict=True):
            checker.check(image.astype(np.float64), pixel, result.image, image.shape)
        check_alone = (time.perf_counter() - start) / len(images)
        start = time.perf_counter()
        check_sampling(images[0], pixel, checker.input_fwhm_nm)
        guard_s = time.perf_counter() - start
    finally:
        engine.close()
    engine_s, both_s = statistics.median(without), statistics.median(with_check)
    return {
        "engine": str(engine_dir),
        "frames": frames,
        "size": size,
        "repeats": repeats,
        "seconds_per_frame_engine": engine_s,
        "seconds_per_frame_with_check": both_s,
        "seconds_per_frame_check_alone": check_alone,
        "check_over_engine": check_alone / engine_s,
        "with_check_over_without": both_s / engine_s,
        "guards_once_per_stream_s": guard_s,
    }
