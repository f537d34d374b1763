"""One simulated LR/HR training pair: the simulator's main entry point for the trainer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcan_live.simulate.config import SimulationConfig, Structure
from tcan_live.simulate.imaging import (
    add_haze,
    add_noise,
    field_nm,
    form_images,
    margin_px,
    positions_in_pixels,
    visible,
)
from tcan_live.simulate.structures import make_sample, with_vesicles


@dataclass(frozen=True)
class SimulatedPair:
    """A simulated image pair on the photon-count scale (float32).

    Attributes
    ----------
    lr
        Noisy low-resolution image (confocal or widefield), side ``size / scale``.
    hr
        Noisy high-resolution image (STED, SIM, ...), side ``size``.
    gt
        Noise-free high-resolution image: the expected value of ``hr`` (background included).
    lr_clean
        Noise-free low-resolution image (expected value of ``lr``).
    pixel_size_nm
        Pixel size of ``hr`` and ``gt``; ``lr`` has ``pixel_size_nm * scale``.
    scale
        HR pixels per LR pixel along each axis.
    bead_positions
        (N, 2) bead centres (row, column) in HR pixel coordinates (pixel centres at integers),
        for beads inside the field; ``None`` for other structures.
    """

    lr: NDArray[np.float32]
    hr: NDArray[np.float32]
    gt: NDArray[np.float32]
    lr_clean: NDArray[np.float32]
    pixel_size_nm: float
    scale: int
    bead_positions: NDArray[np.float64] | None


def simulate_pair(
    structure: str,
    size: int,
    rng: np.random.Generator,
    config: SimulationConfig | None = None,
) -> SimulatedPair:
    """Simulate one LR/HR pair of a random sample of ``structure``.

    Parameters
    ----------
    structure
        ``"beads"``, ``"microtubules"``, ``"actin"``, ``"rings"`` or ``"empty"`` (no sample:
        background, haze and noise only; the noise-free images are flat without haze).
    size
        Side of the HR image in pixels (a multiple of ``config.scale``).
    rng
        The only source of randomness: the same generator state gives the same pair.
    config
        Physics; defaults to confocal (NA 1.4, 633/660 nm, 1 AU) -> STED at 50 nm pixels.

    Returns
    -------
    SimulatedPair
        Noisy LR and HR, noise-free HR and LR, pixel size, scale and bead positions.
    """
    config = config or SimulationConfig()
    field = field_nm(size, config)
    margin = margin_px(config) * config.fine_grid_nm
    sample = make_sample(structure, field, margin, rng, config)  # type: ignore[arg-type]
    if config.vesicle_density_per_um2 > 0:
        sample = with_vesicles(sample, field, margin, rng, config)
    clean = add_haze(form_images(sample, size, config), config, rng)
    lr, hr = add_noise(clean, config, rng)
    beads = None
    if structure == "beads":
        inside = visible(sample.bead_positions_nm, field)
        beads = positions_in_pixels(sample.bead_positions_nm[inside], config.pixel_size_nm)
    return SimulatedPair(
        lr=lr,
        hr=hr,
        gt=clean.hr,
        lr_clean=clean.lr,
        pixel_size_nm=config.pixel_size_nm,
        scale=config.scale,
        bead_positions=beads,
    )


__all__ = ["SimulatedPair", "Structure", "simulate_pair"]
