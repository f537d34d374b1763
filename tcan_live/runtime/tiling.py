"""Tiling of frames of any size into an engine's fixed tiles, with feathered overlaps.

Tiles of ``tile`` pixels step by ``tile - 2 * halo``, so neighbours overlap by ``2 * halo``.
Each tile's output is weighted by a separable window that ramps linearly across the overlap
(complementary ramps sum to one), so no tile's edge pixels — the ones its network saw without
context — dominate anywhere, and steps between tiles' predictions become smooth ramps. The
weights are separable along a Cartesian tile grid, so their sum is an outer product of two 1D
sums: the output needs one accumulation array and no weight image (memory bounded by the
output frame itself plus one batch of tiles).

The frame borders get the mirrored halo too, even where the frame alone would fit one tile:
measured on the beads held-out set (8 x 256 px, tile 256), one unpadded tile instead of four
lost 1.1 dB PSNR and two thirds of the SNR, from the convolutions' zero padding at its edges.

An engine compiled for several tile sizes lets :func:`choose_tile` pick, per frame size, the
one whose plan costs the least: pixels computed (the halo overhead, :attr:`TilePlan.overhead`)
times the network's cost per pixel at that tile.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def _starts(length: int, tile: int, step: int) -> list[int]:
    """Tile starts (in padded coordinates) covering ``length`` pixels plus halos."""
    count = max(1, math.ceil(length / step))
    return [index * step for index in range(count)]


def _ramp(tile: int, halo: int) -> np.ndarray:
    """1D weight window: linear ramp over ``2 * halo`` at both ends, one in the middle."""
    if halo == 0:
        return np.ones(tile, dtype=np.float32)
    u = np.arange(tile, dtype=np.float32) + 0.5
    return np.minimum(1.0, np.minimum(u, tile - u) / (2 * halo)).astype(np.float32)


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of one (Y, X) frame lie and how their outputs combine."""

    shape: tuple[int, int]
    tile: int
    halo: int
    scale: int
    starts_y: tuple[int, ...]
    starts_x: tuple[int, ...]

    @classmethod
    def for_frame(cls, shape: tuple[int, int], tile: int, halo: int, scale: int) -> TilePlan:
        """Plan the tiles of a frame of ``shape`` for an engine's tile, halo and scale."""
        if not 0 <= 2 * halo < tile:
            raise ValueError(f"halo {halo} too large for tile {tile}: need 2 * halo < tile")
        step = tile - 2 * halo
        return cls(
            shape=shape,
            tile=tile,
            halo=halo,
            scale=scale,
            starts_y=tuple(_starts(shape[0], tile, step)),
            starts_x=tuple(_starts(shape[1], tile, step)),
        )

    @property
    def count(self) -> int:
        """Number of tiles."""
        return len(self.starts_y) * len(self.starts_x)

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Shape of the padded frame every tile fits in."""
        return (self.starts_y[-1] + self.tile, self.starts_x[-1] + self.tile)

    @property
    def output_shape(self) -> tuple[int, int]:
        """Shape of the assembled output."""
        return (self.shape[0] * self.scale, self.shape[1] * self.scale)

    @property
    def computed_pixels(self) -> int:
        """Input pixels the network computes for this frame: tiles x tile area."""
        return self.count * self.tile * self.tile

    @property
    def overhead(self) -> float:
        """Halo overhead: pixels the network computes per pixel of the frame."""
        return self.computed_pixels / (self.shape[0] * self.shape[1])

    def overlaps(self) -> tuple[np.ndarray, np.ndarray]:
        """Return boolean masks of the output rows and columns where neighbouring tiles blend."""

        def mask(starts: tuple[int, ...], length: int) -> np.ndarray:
            inside = np.zeros(length * self.scale, dtype=bool)
            for first, second in itertools.pairwise(starts):
                begin = (second - self.halo) * self.scale
                end = (first + self.tile - self.halo) * self.scale
                inside[max(0, begin) : max(0, end)] = True
            return inside

        return mask(self.starts_y, self.shape[0]), mask(self.starts_x, self.shape[1])

    def pad(self, image: np.ndarray) -> np.ndarray:
        """Mirror-pad ``image`` by the halo before and up to :attr:`padded_shape` after."""
        h = self.halo
        after_y = self.padded_shape[0] - self.shape[0] - h
        after_x = self.padded_shape[1] - self.shape[1] - h
        return np.pad(image, ((h, after_y), (h, after_x)), mode="symmetric")

    def positions(self) -> Iterator[tuple[int, int]]:
        """Tile starts (y, x) in padded coordinates, row by row."""
        for y in self.starts_y:
            for x in self.starts_x:
                yield y, x

    def tiles(self, image: np.ndarray) -> Iterator[np.ndarray]:
        """Yield the (tile, tile) float32 crops of ``image`` (the unpadded frame)."""
        padded = self.pad(image.astype(np.float32, copy=False))
        for y, x in self.positions():
            yield padded[y : y + self.tile, x : x + self.tile]


def choose_tile(
    shape: tuple[int, int],
    tiles: Sequence[int],
    halo: int,
    cost_per_pixel: Mapping[int, float] | None = None,
) -> int:
    """Return the tile size among ``tiles`` whose plan for ``shape`` costs the least.

    The cost is the pixels the plan computes times ``cost_per_pixel[tile]`` (the network's
    FLOPs per computed pixel at that tile; 1 for every tile when None, i.e. the fewest pixels).
    The cost per pixel matters: the matmul spectrum's cost grows with the tile side, so a large
    tile with less halo overhead can cost more than smaller tiles (docs/engines.md). Ties go to
    the smaller tile (less memory per batch). Only tiles with an interior (``2 * halo < tile``)
    are considered.
    """
    usable = [tile for tile in tiles if 2 * halo < tile]
    if not usable:
        raise ValueError(f"halo {halo} too large for every tile of {tuple(tiles)}")

    def cost(tile: int) -> tuple[float, int]:
        per_pixel = 1.0 if cost_per_pixel is None else cost_per_pixel[tile]
        return TilePlan.for_frame(shape, tile, halo, 1).computed_pixels * per_pixel, tile

    return min(usable, key=cost)


class TileAssembler:
    """Accumulates weighted tile outputs into the output frame of a :class:`TilePlan`."""

    def __init__(self, plan: TilePlan) -> None:
        self.plan = plan
        s = plan.scale
        self._window = _ramp(plan.tile * s, plan.halo * s)
        padded = plan.padded_shape
        self._sum = np.zeros((padded[0] * s, padded[1] * s), dtype=np.float32)
        self._positions = list(plan.positions())
        self._next = 0

    @property
    def complete(self) -> bool:
        """Whether every tile's output has been added."""
        return self._next == len(self._positions)

    def add(self, output: np.ndarray) -> None:
        """Add the output (scale * tile, scale * tile) of the next tile in plan order."""
        y, x = self._positions[self._next]
        s, size = self.plan.scale, self.plan.tile * self.plan.scale
        window = self._window
        self._sum[y * s : y * s + size, x * s : x * s + size] += (
            output * window[:, None] * window[None, :]
        )
        self._next += 1

    def result(self) -> np.ndarray:
        """Return the assembled output frame (float32), cropped to the scaled frame size."""
        if not self.complete:
            raise RuntimeError(f"{self._next} of {len(self._positions)} tiles added")
        plan, s = self.plan, self.plan.scale
        size = plan.tile * s
        weight_y = np.zeros(self._sum.shape[0], dtype=np.float32)
        weight_x = np.zeros(self._sum.shape[1], dtype=np.float32)
        for y in plan.starts_y:
            weight_y[y * s : y * s + size] += self._window
        for x in plan.starts_x:
            weight_x[x * s : x * s + size] += self._window
        h = plan.halo * s
        height, width = plan.output_shape
        core = self._sum[h : h + height, h : h + width]
        core /= weight_y[h : h + height, None]
        core /= weight_x[None, h : h + width]
        return core
