"""Tiling of frames larger than an engine's tile, with overlapping halos."""

from __future__ import annotations


def default_halo(tile: int) -> int:
    """Overlap (pixels per side, input grid) used when an engine is built without ``--halo``.

    The network's theoretical receptive field (deep U-net, global spectral attention) exceeds
    any practical tile, so the halo is set by the measured seam error instead: see the tiling
    tests and README.
    """
    return max(8, tile // 8)
