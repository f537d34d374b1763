"""Parity of a built engine with the torch fp32 model it was made from.

An engine is only written when its output on a set of probe tiles (uniform noise and simulated
filaments, several per batch) lies within a tolerance of the torch ``fft`` model in float32.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from tcan_live.engine.manifest import EngineError, ParityFigures, Precision
from tcan_live.model import TCANGenerator
from tcan_live.runtime.backend import InferenceBackend

# Largest |engine - torch| allowed, relative to the reference output's range. fp32 engines
# differ from torch only by summation order and the matmul-vs-FFT spectrum (~1e-5 measured);
# fp16 keeps ~3 decimal digits per operation through ~60 layers.
DEFAULT_TOLERANCE: dict[Precision, float] = {"fp32": 1e-3, "fp16": 3e-2, "bf16": 8e-2}
PROBE_DESCRIPTION = "1 uniform-noise + 2 simulated-filament tiles, batched"


class ParityError(EngineError):
    """The engine's output differs from the torch reference by more than the tolerance."""


def filament_image(size: int, rng: np.random.Generator, photons: float = 200.0) -> np.ndarray:
    """Simulate a (size, size) image of noisy blurred random filaments, about 0..1.

    Filaments are smooth random walks (microtubule-like), blurred by a confocal-like PSF of
    ``size / 64`` pixels (at least 1), with Poisson noise at ``photons`` for the brightest pixel.
    """
    canvas = np.zeros((size, size))
    for _ in range(max(3, size // 16)):
        bends = rng.normal(0.0, 0.15, size=4 * size).cumsum()
        angle = rng.uniform(0, 2 * np.pi) + bends
        start = rng.uniform(0, size, size=2)
        path = start + np.stack([np.cos(angle), np.sin(angle)], axis=1).cumsum(axis=0) * 0.5
        inside = np.all((path >= 0) & (path < size), axis=1)
        rows, cols = path[inside].astype(int).T
        canvas[rows, cols] += 1.0
    blurred = ndimage.gaussian_filter(canvas, sigma=max(1.0, size / 64))
    noisy = rng.poisson(blurred / max(blurred.max(), 1e-12) * photons) / photons
    return noisy + rng.normal(0.0, 0.01, size=noisy.shape)


def probe_tiles(tile: int, seed: int = 0) -> np.ndarray:
    """Three float32 tiles (3, 1, tile, tile) in the network's normalised input range.

    The first is uniform noise (every frequency present); the other two are simulated
    filaments, the kind of image the network is trained on.
    """
    rng = np.random.default_rng(seed)
    tiles = [rng.random((tile, tile)), filament_image(tile, rng), filament_image(tile, rng)]
    return np.stack(tiles)[:, None].astype(np.float32)


def reference_output(reference: TCANGenerator, tiles: np.ndarray) -> np.ndarray:
    """Run the torch reference (float32, CPU) on ``tiles``."""
    model = reference.eval().float().cpu()
    with torch.inference_mode():
        return model(torch.from_numpy(tiles)).numpy()


def run_batched(backend: InferenceBackend, tiles: np.ndarray) -> np.ndarray:
    """Run ``tiles`` through ``backend`` in batches of at most ``backend.max_batch``."""
    step = backend.max_batch
    return np.concatenate([backend.run(tiles[i : i + step]) for i in range(0, len(tiles), step)])


def measure_parity(
    backend: InferenceBackend,
    expected: np.ndarray,
    tiles: np.ndarray,
    tolerance: float,
    device: str,
) -> ParityFigures:
    """Compare ``backend`` on ``tiles`` with the reference output ``expected``."""
    actual = run_batched(backend, tiles)
    if actual.shape != expected.shape:
        raise EngineError(f"engine output shape {actual.shape} differs from {expected.shape}")
    max_abs = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    value_range = float(np.ptp(expected))
    max_rel = max_abs / value_range if value_range > 0 else max_abs
    if not np.isfinite(max_abs):
        max_abs = max_rel = float("inf")
    return ParityFigures(
        max_abs_error=max_abs,
        max_rel_error=max_rel,
        tolerance=tolerance,
        probe=f"{PROBE_DESCRIPTION}, max batch {backend.max_batch}",
        device=device,
    )


def require_parity(figures: ParityFigures, what: str) -> None:
    """Raise :class:`ParityError` (with both figures) when ``figures`` exceed the tolerance."""
    if not figures.max_rel_error <= figures.tolerance:
        raise ParityError(
            f"{what} refused: max relative error {figures.max_rel_error:.3g} exceeds the "
            f"tolerance {figures.tolerance:.3g} (max abs error {figures.max_abs_error:.3g} vs "
            f"{figures.reference}); nothing was written"
        )
