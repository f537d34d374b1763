"""Fluorescent samples as geometry in nanometres: beads, filaments and labelled clusters.

A :class:`Sample` is resolution-free; :func:`render_density` draws it onto the fine grid.
Coordinates are (row, column) in nm from the top-left corner of the visible image; samples
extend a margin beyond it so that structures enter the field naturally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter
from scipy.special import erf

from tcan_live.simulate.config import SimulationConfig, Structure

FloatArray = NDArray[np.float64]

MICROTUBULE_PERSISTENCE_NM = 5000.0
ACTIN_PERSISTENCE_NM = 10000.0
ACTIN_WIDTH_NM = 7.0
ACTIN_BRANCH_ANGLE = math.radians(70.0)  # Arp2/3 branch angle
ACTIN_BRANCHES_PER_UM = 1.0
ACTIN_BRIGHTNESS = 0.5
BEAD_PAIR_DISTANCE_NM = (150.0, 400.0)
RING_CORNERS = 8
RING_LABELLING_EFFICIENCY = 0.85
VESICLE_DIAMETER_NM = (80.0, 300.0)


@dataclass(frozen=True)
class Filament:
    """A semi-flexible filament: a start, a heading and per-step turns (a worm-like chain).

    ``turns`` is drawn for ``max_length_nm`` so that growth in a time-lapse extends the same
    chain instead of redrawing it.
    """

    start_nm: FloatArray
    heading: float
    turns: FloatArray
    step_nm: float
    length_nm: float
    brightness: float = 1.0

    @property
    def max_length_nm(self) -> float:
        """Length the pre-drawn turns allow."""
        return self.step_nm * len(self.turns)

    def path(self) -> FloatArray:
        """Points (N, 2) along the filament, ``step_nm`` apart."""
        steps = max(1, min(len(self.turns), round(self.length_nm / self.step_nm)))
        angles = self.heading + np.cumsum(self.turns[:steps])
        moves = self.step_nm * np.stack([np.sin(angles), np.cos(angles)], axis=1)
        return np.asarray(self.start_nm + np.cumsum(moves, axis=0), dtype=np.float64)


@dataclass(frozen=True)
class Sample:
    """Everything fluorescent in one field of view.

    Beads are drawn individually (projected spheres); filaments and cluster points are
    splatted and blurred by ``point_sigma_nm`` (their cross-section).
    """

    bead_positions_nm: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    bead_diameters_nm: FloatArray = field(default_factory=lambda: np.zeros(0))
    bead_brightness: FloatArray = field(default_factory=lambda: np.zeros(0))
    filaments: tuple[Filament, ...] = ()
    points_nm: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    point_weights: FloatArray = field(default_factory=lambda: np.zeros(0))
    point_sigma_nm: float = 0.0

    def shifted(self, offset_nm: FloatArray) -> Sample:
        """Return the same sample moved by ``offset_nm`` (row, column)."""
        moved = tuple(replace(f, start_nm=f.start_nm + offset_nm) for f in self.filaments)
        return replace(
            self,
            bead_positions_nm=self.bead_positions_nm + offset_nm,
            filaments=moved,
            points_nm=self.points_nm + offset_nm,
        )


def make_sample(
    structure: Structure,
    field_nm: float,
    margin_nm: float,
    rng: np.random.Generator,
    config: SimulationConfig,
) -> Sample:
    """Draw a random sample of ``structure`` covering a square field plus a margin.

    Parameters
    ----------
    structure
        ``"beads"``, ``"microtubules"``, ``"actin"`` or ``"rings"``.
    field_nm
        Side of the visible field.
    margin_nm
        Extra border (the PSF's reach) where structures are also placed.
    rng
        Source of randomness (the only one).
    config
        Densities and sizes.
    """
    low, high = -margin_nm, field_nm + margin_nm
    area_um2 = ((high - low) / 1000.0) ** 2
    if structure == "empty":
        return Sample()
    if structure == "beads":
        return _beads(low, high, area_um2, rng, config)
    if structure == "microtubules":
        count = max(1, int(rng.poisson(config.filament_density_per_um2 * area_um2)))
        filaments = tuple(
            _filament(
                rng.uniform(low, high, 2),
                rng.uniform(0, 2 * math.pi),
                rng.uniform(3000.0, 10000.0),
                MICROTUBULE_PERSISTENCE_NM,
                config.fine_grid_nm / 2,
                rng,
            )
            for _ in range(count)
        )
        # A hollow tube of diameter w projects with variance (w/2)^2 / 2 across it.
        return Sample(filaments=filaments, point_sigma_nm=config.filament_width_nm / 2 / 2**0.5)
    if structure == "actin":
        return _actin(low, high, area_um2, rng, config)
    if structure == "rings":
        return _rings(low, high, area_um2, rng, config)
    raise ValueError(f"unknown structure {structure!r}; expected beads, microtubules, actin, rings")


def _beads(
    low: float, high: float, area_um2: float, rng: np.random.Generator, config: SimulationConfig
) -> Sample:
    count = max(1, int(rng.poisson(config.bead_density_per_um2 * area_um2)))
    positions = rng.uniform(low, high, (count, 2))
    # Some close pairs, as bead samples have, to show two-point resolution in line profiles.
    paired = positions[rng.random(count) < config.bead_pair_fraction]
    angle = rng.uniform(0, 2 * math.pi, len(paired))
    distance = rng.uniform(*BEAD_PAIR_DISTANCE_NM, len(paired))
    partners = paired + distance[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    positions = np.concatenate([positions, partners])
    total = len(positions)
    return Sample(
        bead_positions_nm=positions,
        bead_diameters_nm=rng.uniform(*config.bead_diameter_nm, total),
        bead_brightness=rng.lognormal(0.0, 0.15, total),
    )


def _filament(
    start: FloatArray,
    heading: float,
    length_nm: float,
    persistence_nm: float,
    step_nm: float,
    rng: np.random.Generator,
    brightness: float = 1.0,
) -> Filament:
    # Turns for 1.5x the length, so that a time-lapse can grow the filament.
    steps = math.ceil(1.5 * length_nm / step_nm)
    # Worm-like chain in 2D: heading variance grows by step / persistence per step.
    turns = rng.normal(0.0, math.sqrt(step_nm / persistence_nm), steps)
    return Filament(start, heading, turns, step_nm, length_nm, brightness)


def _actin(
    low: float, high: float, area_um2: float, rng: np.random.Generator, config: SimulationConfig
) -> Sample:
    step = config.fine_grid_nm / 2
    seeds = max(1, int(rng.poisson(config.actin_density_per_um2 * area_um2)))
    filaments: list[Filament] = []
    for _ in range(seeds):
        mother = _filament(
            rng.uniform(low, high, 2),
            rng.uniform(0, 2 * math.pi),
            rng.uniform(500.0, 3000.0),
            ACTIN_PERSISTENCE_NM,
            step,
            rng,
            ACTIN_BRIGHTNESS,
        )
        filaments.append(mother)
        path = mother.path()
        n_branches = int(rng.poisson(ACTIN_BRANCHES_PER_UM * mother.length_nm / 1000.0))
        for index in rng.integers(0, len(path), n_branches):
            angle = mother.heading + float(np.sum(mother.turns[: index + 1]))
            side = rng.choice([-1.0, 1.0])
            filaments.append(
                _filament(
                    path[index],
                    angle + side * ACTIN_BRANCH_ANGLE,
                    rng.uniform(200.0, 1500.0),
                    ACTIN_PERSISTENCE_NM,
                    step,
                    rng,
                    ACTIN_BRIGHTNESS,
                )
            )
    return Sample(filaments=tuple(filaments), point_sigma_nm=ACTIN_WIDTH_NM / 2 / 2**0.5)


def _rings(
    low: float, high: float, area_um2: float, rng: np.random.Generator, config: SimulationConfig
) -> Sample:
    count = max(1, int(rng.poisson(config.ring_density_per_um2 * area_um2)))
    points: list[FloatArray] = []
    for centre in rng.uniform(low, high, (count, 2)):
        radius = rng.normal(config.ring_diameter_nm, 5.0) / 2
        phase = rng.uniform(0, 2 * math.pi / RING_CORNERS)
        for corner in range(RING_CORNERS):
            if rng.random() > RING_LABELLING_EFFICIENCY:
                continue
            angle = phase + 2 * math.pi * corner / RING_CORNERS
            spot = centre + radius * np.array([math.sin(angle), math.cos(angle)])
            labels = 1 + int(rng.poisson(3.0))
            points.append(spot + rng.normal(0.0, 6.0, (labels, 2)))
    stacked = np.concatenate(points) if points else np.zeros((0, 2))
    return Sample(points_nm=stacked, point_weights=np.ones(len(stacked)))


def with_vesicles(
    sample: Sample,
    field_nm: float,
    margin_nm: float,
    rng: np.random.Generator,
    config: SimulationConfig,
) -> Sample:
    """Return ``sample`` with vesicles added: larger, dimmer spheres scattered over the field.

    Real cells show blobs beside their filaments; a network that never saw any turns them
    into the only thing it knows (filament fragments, or strings of beads).
    """
    low, high = -margin_nm, field_nm + margin_nm
    count = int(rng.poisson(config.vesicle_density_per_um2 * ((high - low) / 1000.0) ** 2))
    if count == 0:
        return sample
    diameters = rng.uniform(*VESICLE_DIAMETER_NM, count)
    # Total brightness of 50-300 nm of filament (weight 1 per nm): as bright as its neighbours.
    brightness = rng.uniform(50.0, 300.0, count)
    return replace(
        sample,
        bead_positions_nm=np.concatenate(
            [sample.bead_positions_nm, rng.uniform(low, high, (count, 2))]
        ),
        bead_diameters_nm=np.concatenate([sample.bead_diameters_nm, diameters]),
        bead_brightness=np.concatenate([sample.bead_brightness, brightness]),
    )


def render_density(sample: Sample, shape: int, margin: int, fine_nm: float) -> FloatArray:
    """Draw ``sample`` on a square fine grid of ``shape + 2 * margin`` pixels.

    Pixel ``i`` of the visible field covers ``[i, i + 1) * fine_nm``; the margin lies around it.
    Filament and cluster points are deposited bilinearly, then blurred by their cross-section;
    beads are added as pixel-integrated Gaussians with a projected sphere's variance.
    """
    side = shape + 2 * margin
    density = np.zeros((side, side))
    paths = [f.path() for f in sample.filaments]
    weights = [
        np.full(len(p), f.brightness * f.step_nm)
        for f, p in zip(sample.filaments, paths, strict=True)
    ]
    points = np.concatenate([sample.points_nm, *paths])
    point_weights = np.concatenate([sample.point_weights, *weights])
    if len(points):
        _splat(density, points / fine_nm - 0.5 + margin, point_weights)
        sigma_px = sample.point_sigma_nm / fine_nm
        if sigma_px > 0.3:
            density = gaussian_filter(density, sigma_px, mode="constant")
    for position, diameter, brightness in zip(
        sample.bead_positions_nm, sample.bead_diameters_nm, sample.bead_brightness, strict=True
    ):
        # A uniform sphere of radius r projects with variance r^2 / 5 along each axis.
        _add_gaussian(
            density, position / fine_nm - 0.5 + margin, diameter / 2 / 5**0.5 / fine_nm, brightness
        )
    return density


def _splat(grid: FloatArray, coords: FloatArray, weights: FloatArray) -> None:
    side = grid.shape[0]
    base = np.floor(coords).astype(np.int64)
    frac = coords - base
    for dy in (0, 1):
        for dx in (0, 1):
            row, col = base[:, 0] + dy, base[:, 1] + dx
            share = (frac[:, 0] if dy else 1 - frac[:, 0]) * (frac[:, 1] if dx else 1 - frac[:, 1])
            inside = (row >= 0) & (row < side) & (col >= 0) & (col < side)
            flat = row[inside] * side + col[inside]
            deposit = np.bincount(flat, weights=(weights * share)[inside], minlength=side * side)
            grid += deposit.reshape(grid.shape)


def _add_gaussian(grid: FloatArray, centre: FloatArray, sigma: float, total: float) -> None:
    reach = math.ceil(4 * sigma) + 1
    low = np.floor(centre).astype(int) - reach
    high = low + 2 * reach + 1
    side = grid.shape[0]
    if np.any(high <= 0) or np.any(low >= side):
        return
    profiles = []
    for axis in (0, 1):
        edges = np.arange(low[axis], high[axis] + 1) - 0.5 - centre[axis]
        cdf = 0.5 * (1 + erf(edges / (sigma * 2**0.5)))
        profiles.append(np.diff(cdf))
    patch = total * np.outer(*profiles)
    r0, c0 = max(low[0], 0), max(low[1], 0)
    r1, c1 = min(high[0], side), min(high[1], side)
    grid[r0:r1, c0:c1] += patch[r0 - low[0] : r1 - low[0], c0 - low[1] : c1 - low[1]]
