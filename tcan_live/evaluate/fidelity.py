"""Fidelity checks of an enhancer: no structure from noise, linear intensities, no flicker.

Three measurements a scientist can trust an output by (issue 12), each on simulated data
drawn from fixed seeds, so a figure is reproducible with ``tcan-live fidelity``:

* **Noise-only frames**: a camera offset plus pure Poisson background, nothing else.
  ``std(output) / mean(input)`` is compared with the same figure for a Gaussian smoothing
  (sigma 1.5 output pixels) of the input: an output keeping more "structure" than that
  smoothing has turned noise into structure.
* **Intensity linearity**: the output re-blurred to the input's resolution (Gaussian sigma
  fitted as the SQUIRREL error map does; no intensity fit) against the noise-free input, per
  decile of the noise-free input's intensity over the structure (pixels above background
  plus 5 % of the range), and over the background (the other pixels). 1.0 is linear.
* **Flicker**: the mean absolute difference of consecutive frames of a time-lapse inside the
  cell (noise-free input above its background plus 10 % of its range), relative to the mean
  signal there; output against input on the same grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

from tcan_live.evaluate.enhancers import Enhance
from tcan_live.metrics.error_map import error_map
from tcan_live.runtime.resample import resample_to_shape
from tcan_live.simulate import SimulationConfig, simulate_pair, simulate_timelapse

FloatArray = NDArray[np.float32]

CONTROL_SIGMA_PX = 1.5
NOISE_BACKGROUNDS = (3.0, 20.0, 200.0)
NOISE_OFFSET = 100.0
FIDELITY_SEED = 1_000_211  # never a training seed (those are small)
DECILES = 10
# Pixels whose noise-free input exceeds background + this fraction of its range are "cell".
CELL_THRESHOLD = 0.1
# ... and this fraction, "structure" for the linearity deciles.
STRUCTURE_THRESHOLD = 0.05


@dataclass(frozen=True)
class NoiseOnly:
    """Structure kept from one noise-only frame, and the smoothing control's."""

    background: float
    output: float
    control: float

    @property
    def ratio(self) -> float:
        """``output / control``: at most 1 passes."""
        return self.output / self.control


def _on_output_grid(image: FloatArray, shape: tuple[int, int]) -> FloatArray:
    return image if image.shape == shape else resample_to_shape(image, shape)


def noise_only(
    enhance: Enhance,
    pixel_size_nm: float,
    background: float,
    *,
    offset: float = NOISE_OFFSET,
    size: int = 256,
    seed: int = FIDELITY_SEED,
) -> NoiseOnly:
    """Enhance one frame of ``offset + Poisson(background)`` and measure what it keeps."""
    rng = np.random.default_rng([seed, round(background * 1000)])
    frame = (offset + rng.poisson(background, (size, size))).astype(np.float32)
    output, _ = enhance(frame, pixel_size_nm)
    control = gaussian_filter(_on_output_grid(frame, output.shape), CONTROL_SIGMA_PX)
    mean = float(frame.mean())
    return NoiseOnly(background, float(np.std(output)) / mean, float(np.std(control)) / mean)


def _test_config(pixel_size_nm: float, scale: int) -> SimulationConfig:
    # The engine's grid: its input pixel is the simulator's HR pixel times the scale.
    return SimulationConfig(pixel_size_nm=pixel_size_nm / scale, scale=scale)


def linearity(
    enhance: Enhance,
    pixel_size_nm: float,
    structure: str,
    *,
    scale: int = 1,
    size: int = 256,
    seed: int = FIDELITY_SEED,
) -> tuple[list[float], float]:
    """Return re-blurred output / noise-free input per structure decile, and on background.

    Deciles are of the noise-free input over the structure's pixels, lowest first.
    """
    config = _test_config(pixel_size_nm, scale)
    pair = simulate_pair(structure, size, np.random.default_rng([seed, 1]), config)
    output, _ = enhance(pair.lr, pixel_size_nm)
    fit = error_map(pair.lr_clean, output)
    binned = output.reshape(pair.lr.shape[0], scale, pair.lr.shape[1], scale).mean(axis=(1, 3))
    reblurred = gaussian_filter(binned.astype(np.float64), fit.sigma_px, mode="reflect")
    clean = pair.lr_clean.astype(np.float64)
    floor = float(clean.min())
    inside = clean > floor + STRUCTURE_THRESHOLD * (float(clean.max()) - floor)
    signal, mapped = clean[inside], reblurred[inside]
    edges = np.quantile(signal, np.linspace(0.0, 1.0, DECILES + 1))
    index = np.clip(np.searchsorted(edges, signal, side="right") - 1, 0, DECILES - 1)
    deciles = [
        float(mapped[index == d].mean() / signal[index == d].mean())
        if np.any(index == d)
        else float("nan")
        for d in range(DECILES)
    ]
    return deciles, float(reblurred[~inside].mean() / clean[~inside].mean())


def _flicker(movie: NDArray[np.floating], mask: NDArray[np.bool_]) -> float:
    steps = np.abs(np.diff(movie, axis=0))[:, mask]
    return float(steps.mean() / np.abs(movie[:, mask]).mean())


def flicker(
    enhance: Enhance,
    pixel_size_nm: float,
    structure: str,
    *,
    scale: int = 1,
    frames: int = 20,
    size: int = 128,
    seed: int = FIDELITY_SEED,
) -> tuple[float, float]:
    """Return (output flicker, input flicker) of a simulated ``frames``-frame time-lapse.

    The input is brought to the output grid by the runtime's resampling before comparing.
    """
    config = _test_config(pixel_size_nm, scale)
    movie = simulate_timelapse((structure,), frames, size, np.random.default_rng([seed, 2]), config)
    lr = movie.lr[:, 0]
    outputs = np.stack([enhance(frame, pixel_size_nm)[0] for frame in lr])
    shape = outputs.shape[1:]
    inputs = np.stack([_on_output_grid(frame, shape) for frame in lr])
    clean = _on_output_grid(
        gaussian_filter(movie.lr[:, 0].mean(axis=0), 2.0).astype(np.float32), shape
    )
    low, high = np.percentile(clean, [1.0, 99.9])
    mask = clean > low + CELL_THRESHOLD * (high - low)
    return _flicker(outputs, mask), _flicker(inputs, mask)


@dataclass(frozen=True)
class FidelityReport:
    """Every fidelity figure of one enhancer."""

    noise_only: list[NoiseOnly]
    linearity: list[float]
    background: float
    flicker_output: float
    flicker_input: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready figures (ratios included)."""
        return {
            "noise_only": [asdict(n) | {"ratio": n.ratio} for n in self.noise_only],
            "linearity_per_decile": self.linearity,
            "background_ratio": self.background,
            "flicker_output": self.flicker_output,
            "flicker_input": self.flicker_input,
            "flicker_ratio": self.flicker_output / self.flicker_input,
        }


def fidelity(
    enhance: Enhance,
    pixel_size_nm: float,
    structure: str,
    *,
    scale: int = 1,
    backgrounds: tuple[float, ...] = NOISE_BACKGROUNDS,
    seed: int = FIDELITY_SEED,
) -> FidelityReport:
    """Measure noise-only structure, linearity and flicker of ``enhance`` at its pixel size."""
    noise = [noise_only(enhance, pixel_size_nm, b, seed=seed) for b in backgrounds]
    line, background = linearity(enhance, pixel_size_nm, structure, scale=scale, seed=seed)
    out, inp = flicker(enhance, pixel_size_nm, structure, scale=scale, seed=seed)
    return FidelityReport(noise, line, background, out, inp)
