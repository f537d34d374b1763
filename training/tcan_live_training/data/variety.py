"""What a microscope sees, drawn per simulated sample: photon level, background, detector, PSF.

A model trained at one photon level and one background learns that every frame looks like
that; at run time it then meets pure background, haze, a camera offset and a hundred-fold
range of brightness. Each simulated sample therefore draws its own physics from the ranges of
``data.variety``, keyed by the sample's random generator (deterministic).
"""

from __future__ import annotations

import math

import numpy as np

from tcan_live.simulate import SimulationConfig
from tcan_live_training.config import VarietyConfig


def _log_uniform(rng: np.random.Generator, span: tuple[float, float]) -> float:
    low, high = span
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def draw_physics(
    base: SimulationConfig, variety: VarietyConfig, rng: np.random.Generator
) -> tuple[SimulationConfig, bool]:
    """Return one sample's physics and whether it is an empty (noise-only) field.

    Unset ranges keep ``base``'s value. The HR background keeps its ratio to the LR's.
    """
    update: dict[str, float] = {}
    if variety.photons is not None:
        update["photons"] = _log_uniform(rng, variety.photons)
    if variety.lr_background is not None:
        background = _log_uniform(rng, variety.lr_background)
        ratio = base.hr_background / base.lr_background if base.lr_background > 0 else 0.5
        update["lr_background"] = background
        update["hr_background"] = background * ratio
    if variety.camera_offset is not None:
        update["camera_offset"] = float(rng.uniform(*variety.camera_offset))
    if variety.read_noise is not None:
        update["read_noise"] = float(rng.uniform(*variety.read_noise))
    if variety.haze_fraction is not None:
        photons = update.get("photons", base.photons)
        update["haze"] = float(rng.uniform(*variety.haze_fraction)) * photons
    if variety.vesicle_density_per_um2 is not None:
        update["vesicle_density_per_um2"] = float(rng.uniform(*variety.vesicle_density_per_um2))
    if variety.pinhole_au:
        # A few discrete values, so the PSF caches serve every sample after the first few.
        update["pinhole_au"] = float(rng.choice(variety.pinhole_au))
    empty = bool(rng.random() < variety.empty_fraction)
    return SimulationConfig.model_validate({**base.model_dump(), **update}), empty
