"""Point spread functions on the fine rendering grid, peak-normalised and cached.

The confocal and widefield PSFs come from psfmodels' vectorial model (Aguet et al. 2009).
No package models a STED doughnut, so the effective STED PSF is the confocal PSF times the
fluorescence surviving a scalar vortex doughnut, plus a small confocal leak for the real
doughnut's non-zero centre. SIM is modelled as the widefield PSF shrunk by its resolution gain.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import trapezoid
from scipy.special import j1

from tcan_live.simulate.config import Modality, SimulationConfig

FloatArray = NDArray[np.float32]


def kernel_half_width(config: SimulationConfig) -> int:
    """Half side (fine pixels) of every PSF kernel of ``config``: wide enough for the LR PSF."""
    widest_nm = 1.3 * config.emission_nm / min(config.lr_na, config.hr_na)
    return math.ceil(widest_nm / config.fine_grid_nm)


@lru_cache(maxsize=32)
def confocal_psf(
    half: int, dxy_nm: float, na: float, ex_nm: float, em_nm: float, pinhole_au: float, n: float
) -> FloatArray:
    """Vectorial confocal PSF (focal plane) of side ``2 * half + 1`` pixels of ``dxy_nm``."""
    import psfmodels

    psf = psfmodels.confocal_psf(
        z=[0.0],
        nx=2 * half + 1,
        pinhole_au=pinhole_au,
        dxy=dxy_nm / 1000.0,
        NA=na,
        ex_wvl=ex_nm / 1000.0,
        em_wvl=em_nm / 1000.0,
        ns=n,
        ni=n,
        ni0=n,
        model="vectorial",
    )[0]
    return _peak_normalised(psf)


@lru_cache(maxsize=32)
def widefield_psf(half: int, dxy_nm: float, na: float, em_nm: float, n: float) -> FloatArray:
    """Vectorial widefield PSF (focal plane) of side ``2 * half + 1`` pixels of ``dxy_nm``."""
    import psfmodels

    params = {"NA": na, "ni": n, "ni0": n, "ns": n}
    psf = psfmodels.vectorial_psf(  # type: ignore[no-untyped-call]
        zv=[0.0], nx=2 * half + 1, dxy=dxy_nm / 1000.0, wvl=em_nm / 1000.0, params=params
    )[0]
    return _peak_normalised(psf)


@lru_cache(maxsize=32)
def doughnut(half: int, dxy_nm: float, na: float, wavelength_nm: float, n: float) -> FloatArray:
    """Focal intensity of a vortex (0-2 pi helical phase) depletion beam, peak 1.

    Scalar Debye integral with aplanatic apodisation:
    E(r) = int_0^alpha sqrt(cos t) sin t J1(k n r sin t) dt, intensity |E|^2.
    """
    alpha = math.asin(min(na / n, 1.0))
    theta = np.linspace(0.0, alpha, 256)
    k = 2 * math.pi * n / wavelength_nm
    radii = np.linspace(0.0, math.sqrt(2.0) * (half + 1) * dxy_nm, 512)
    weight = np.sqrt(np.cos(theta)) * np.sin(theta)
    field = trapezoid(weight * j1(k * np.outer(radii, np.sin(theta))), theta, axis=1)
    profile = field**2
    y, x = np.mgrid[-half : half + 1, -half : half + 1] * dxy_nm
    intensity = np.interp(np.hypot(y, x), radii, profile)
    return _peak_normalised(intensity)


@lru_cache(maxsize=32)
def sted_psf(
    half: int,
    dxy_nm: float,
    na: float,
    ex_nm: float,
    em_nm: float,
    depletion_nm: float,
    pinhole_au: float,
    n: float,
    saturation: float,
    leak: float,
) -> FloatArray:
    """Effective STED PSF: confocal x exp(-ln2 zeta D / D_max), plus ``leak`` of confocal."""
    confocal = confocal_psf(half, dxy_nm, na, ex_nm, em_nm, pinhole_au, n)
    depletion = doughnut(half, dxy_nm, na, depletion_nm, n)
    surviving = np.exp(-math.log(2.0) * saturation * depletion)
    return _peak_normalised((1.0 - leak) * confocal * surviving + leak * confocal)


def psf_for(modality: Modality, config: SimulationConfig, *, low_resolution: bool) -> FloatArray:
    """Return the fine-grid PSF of ``modality`` with the LR or HR objective of ``config``."""
    half = kernel_half_width(config)
    na = config.lr_na if low_resolution else config.hr_na
    dxy, n = config.fine_grid_nm, config.immersion_index
    if modality == "confocal":
        return confocal_psf(
            half, dxy, na, config.excitation_nm, config.emission_nm, config.pinhole_au, n
        )
    if modality == "widefield":
        return widefield_psf(half, dxy, na, config.emission_nm, n)
    if modality == "sim":
        # Shrinking the widefield PSF by the gain widens its OTF support by the same factor.
        return widefield_psf(half, dxy * config.sim_gain, na, config.emission_nm, n)
    return sted_psf(
        half,
        dxy,
        na,
        config.excitation_nm,
        config.emission_nm,
        config.depletion_nm,
        config.pinhole_au,
        n,
        config.sted_saturation,
        config.sted_leak,
    )


def hr_to_lr_flux(config: SimulationConfig) -> float:
    """Return LR intensity per unit of HR intensity for the same (smooth) fluorophore density.

    The PSFs are peak-normalised, so the same density gives each image a pixel value
    proportional to its PSF's integral (times ``hr_relative_brightness`` for HR). Multiplying a
    background-free HR image by this number puts it in the LR's units: blurred to the LR's
    resolution, it has the LR's intensities.
    """
    lr = psf_for(config.lr_modality, config, low_resolution=True)
    hr = psf_for(config.hr_modality, config, low_resolution=False)
    return float(np.sum(lr, dtype=np.float64) / np.sum(hr, dtype=np.float64)) / (
        config.hr_relative_brightness
    )


def sampled_psf(config: SimulationConfig, *, low_resolution: bool = True) -> FloatArray:
    """Return the LR (or HR) PSF on its own pixel grid, summing to 1 (e.g. for deconvolution).

    Fine-grid PSF values are averaged over each pixel, centred on the PSF's centre pixel.
    """
    modality = config.lr_modality if low_resolution else config.hr_modality
    fine = np.asarray(psf_for(modality, config, low_resolution=low_resolution), np.float64)
    factor = config.lr_bin if low_resolution else config.hr_bin
    half = fine.shape[0] // 2
    reach = (half - factor // 2) // factor
    side = (2 * reach + 1) * factor
    start = half - side // 2
    crop = fine[start : start + side, start : start + side]
    binned = crop.reshape(2 * reach + 1, factor, 2 * reach + 1, factor).mean(axis=(1, 3))
    return (binned / binned.sum()).astype(np.float32)


def _peak_normalised(psf: NDArray[np.floating]) -> FloatArray:
    psf = np.asarray(psf, dtype=np.float64)
    normalised = (psf / psf.max()).astype(np.float32)
    normalised.flags.writeable = False  # shared through the caches
    return normalised
