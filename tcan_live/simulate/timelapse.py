"""Time-lapse and multi-colour movies for the daemon and demo.

Each channel is its own sample (e.g. microtubules and actin in one cell); all share one
stage drift. Filaments grow and shrink (dynamic instability: switching between growth and
shrinkage at random) and bend slowly (their turns follow a mean-reverting random walk that
keeps the chain's stiffness); every channel bleaches by a fixed fraction per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from tcan_live.core.settings import FrozenModel
from tcan_live.simulate.config import SimulationConfig, Structure
from tcan_live.simulate.imaging import add_noise, field_nm, form_images, margin_px
from tcan_live.simulate.structures import Filament, Sample, make_sample


class Dynamics(FrozenModel):
    """How the sample changes between frames."""

    drift_nm_per_frame: float = Field(10.0, ge=0, description="mean stage drift speed")
    drift_jitter_nm: float = Field(3.0, ge=0, description="random part of the drift per frame")
    growth_nm_per_frame: float = Field(80.0, ge=0)
    shrink_nm_per_frame: float = Field(150.0, ge=0)
    catastrophe_probability: float = Field(0.05, ge=0, le=1)
    rescue_probability: float = Field(0.2, ge=0, le=1)
    bend: float = Field(0.001, ge=0, le=1, description="fraction of each turn renewed per frame")
    bleach_per_frame: float = Field(0.01, ge=0, lt=1)


@dataclass(frozen=True)
class TimeLapse:
    """A simulated movie, arrays (T, C, Y, X) float32 in photons.

    ``hr``/``gt`` have ``pixel_size_nm``; ``lr`` has ``pixel_size_nm * scale``.
    """

    lr: NDArray[np.float32]
    hr: NDArray[np.float32]
    gt: NDArray[np.float32]
    pixel_size_nm: float
    scale: int
    channels: tuple[str, ...]
    drift_nm: NDArray[np.float64]

    @property
    def lr_pixel_size_nm(self) -> float:
        """Pixel size of ``lr``."""
        return self.pixel_size_nm * self.scale


def simulate_timelapse(
    structures: tuple[str, ...] = ("microtubules",),
    frames: int = 10,
    size: int = 128,
    rng: np.random.Generator | None = None,
    config: SimulationConfig | None = None,
    dynamics: Dynamics | None = None,
) -> TimeLapse:
    """Simulate a time-lapse of one or more channels.

    Parameters
    ----------
    structures
        One structure per channel, e.g. ``("microtubules", "actin")`` for dual colour.
    frames
        Number of time points.
    size
        HR image side in pixels.
    rng
        The only source of randomness (default: seed 0).
    config
        Physics (default: confocal -> STED at 50 nm).
    dynamics
        Growth, bending, drift and bleaching.

    Returns
    -------
    TimeLapse
        LR, noisy HR and noise-free HR movies plus the drift applied to each frame.
    """
    if frames < 1 or not structures:
        raise ValueError("simulate_timelapse needs at least one frame and one structure")
    rng = rng or np.random.default_rng(0)
    config = config or SimulationConfig()
    dynamics = dynamics or Dynamics()
    field = field_nm(size, config)
    margin = margin_px(config) * config.fine_grid_nm
    samples = [make_sample(s, field, margin, rng, config) for s in structures]  # type: ignore[arg-type]
    growing = [rng.random(len(s.filaments)) < 0.5 for s in samples]
    direction = rng.uniform(0, 2 * math.pi)
    velocity = dynamics.drift_nm_per_frame * np.array([math.sin(direction), math.cos(direction)])
    offset = np.zeros(2)
    scales: list[float | None] = [None] * len(samples)
    lr_frames, hr_frames, gt_frames, drift = [], [], [], []
    for t in range(frames):
        lr_c, hr_c, gt_c = [], [], []
        for c, sample in enumerate(samples):
            bleach = (1.0 - dynamics.bleach_per_frame) ** t
            photon_scale = None if scales[c] is None else scales[c] * bleach  # type: ignore[operator]
            clean = form_images(sample.shifted(offset), size, config, photon_scale)
            scales[c] = scales[c] if scales[c] is not None else clean.photon_scale
            lr, hr = add_noise(clean, config, rng)
            lr_c.append(lr)
            hr_c.append(hr)
            gt_c.append(clean.hr)
            samples[c], growing[c] = _evolve(sample, growing[c], rng, dynamics)
        lr_frames.append(np.stack(lr_c))
        hr_frames.append(np.stack(hr_c))
        gt_frames.append(np.stack(gt_c))
        drift.append(offset.copy())
        offset = offset + velocity + rng.normal(0.0, dynamics.drift_jitter_nm, 2)
    return TimeLapse(
        lr=np.stack(lr_frames),
        hr=np.stack(hr_frames),
        gt=np.stack(gt_frames),
        pixel_size_nm=config.pixel_size_nm,
        scale=config.scale,
        channels=tuple(structures),
        drift_nm=np.array(drift),
    )


def _evolve(
    sample: Sample, growing: NDArray[np.bool_], rng: np.random.Generator, dynamics: Dynamics
) -> tuple[Sample, NDArray[np.bool_]]:
    if not sample.filaments:
        return sample, growing
    switch = rng.random(len(growing))
    growing = np.where(
        growing,
        switch >= dynamics.catastrophe_probability,
        switch < dynamics.rescue_probability,
    )
    filaments = tuple(
        _grow_and_bend(f, bool(g), rng, dynamics)
        for f, g in zip(sample.filaments, growing, strict=True)
    )
    return replace(sample, filaments=filaments), growing


def _grow_and_bend(
    filament: Filament, growing: bool, rng: np.random.Generator, dynamics: Dynamics
) -> Filament:
    change = dynamics.growth_nm_per_frame if growing else -dynamics.shrink_nm_per_frame
    length = float(np.clip(filament.length_nm + change, filament.step_nm, filament.max_length_nm))
    spread = float(np.std(filament.turns))
    keep = 1.0 - dynamics.bend
    # Mean-reverting update: the turns' variance (the chain's stiffness) stays the same.
    fresh = rng.normal(0.0, spread, filament.turns.shape)
    turns = keep * filament.turns + math.sqrt(1.0 - keep**2) * fresh
    return replace(filament, length_nm=length, turns=turns)


__all__ = ["Dynamics", "Structure", "TimeLapse", "simulate_timelapse"]
