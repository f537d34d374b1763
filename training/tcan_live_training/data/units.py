"""Targets in the input's units: one linear map per pair, one intensity range (the LR's).

The network's output is mapped back to raw intensities with the INPUT's range, so it can only
come out linear in the input's units if its target was put in those units first. For
simulated pairs the map is known from the physics (PSF integrals, brightness, backgrounds);
for real pairs it is fitted as the SQUIRREL error map fits an SR image to its reference
(:func:`tcan_live.metrics.error_map.error_map`: ``alpha * G_sigma(hr) + beta ~ lr``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tcan_live.metrics.error_map import error_map
from tcan_live.metrics.intensity import percentile_range
from tcan_live.model import NormalizationSpec
from tcan_live.simulate import SimulationConfig
from tcan_live.simulate.optics import hr_to_lr_flux

Image = NDArray[np.float32]


@dataclass(frozen=True)
class LinearMap:
    """``alpha * hr + beta`` in LR units; ``sigma_px`` is the fitted re-blur (LR pixels)."""

    alpha: float
    beta: float
    sigma_px: float = float("nan")
    rsp: float = float("nan")

    def apply(self, hr: Image) -> Image:
        """Return ``hr`` in the LR's units (float32)."""
        return (np.float32(self.alpha) * hr + np.float32(self.beta)).astype(np.float32)


def simulated_map(config: SimulationConfig) -> LinearMap:
    """Return the exact map of a simulated pair: HR less its background, times the flux ratio.

    A noise-free HR image ``gt`` maps to ``(gt - hr_bg) * flux + lr_bg`` (offsets included), so
    re-blurred to the LR's resolution it has the noise-free LR's intensities.
    """
    flux = hr_to_lr_flux(config)
    hr_floor = config.hr_background + config.camera_offset
    lr_floor = config.lr_background + config.camera_offset
    return LinearMap(alpha=flux, beta=lr_floor - flux * hr_floor)


def fitted_map(lr: Image, hr: Image) -> LinearMap:
    """Fit the map of a real pair (least squares after a fitted Gaussian re-blur of HR)."""
    fit = error_map(lr, hr)
    return LinearMap(alpha=fit.alpha, beta=fit.beta, sigma_px=fit.sigma_px, rsp=fit.rsp)


def normalize_to_input(
    lr: Image, target_in_lr_units: Image, spec: NormalizationSpec
) -> tuple[Image, Image]:
    """Normalise LR and its target with the LR's own range (``spec``, noise floor included).

    The same two numbers the runtime will measure on the input then map the output back, so
    an output equal to the target is, in raw units, the target in the input's units.
    ``spec.clip`` clips the LR only (the target may exceed the input's high percentile: a
    sharper image of the same flux has higher peaks).
    """
    span = percentile_range(lr, spec)
    low = span.normalize(lr)
    if spec.clip:
        low = np.clip(low, 0.0, 1.0)
    return low, span.normalize(target_in_lr_units)
