"""Image formation: fine-grid density -> PSF -> pixel binning -> photons -> noise."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.fft import irfft2, next_fast_len, rfft2
from scipy.ndimage import gaussian_filter

from tcan_live.simulate.config import SimulationConfig
from tcan_live.simulate.noise import detect
from tcan_live.simulate.optics import hr_to_lr_flux, kernel_half_width, psf_for
from tcan_live.simulate.structures import Sample, render_density

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class NoiseFree:
    """Expected photon counts of one sample, before noise (backgrounds included)."""

    lr: FloatArray
    hr: FloatArray
    photon_scale: float


def margin_px(config: SimulationConfig) -> int:
    """Fine pixels rendered around the field so the PSF sees structures beyond the edge."""
    return kernel_half_width(config)


def field_nm(size: int, config: SimulationConfig) -> float:
    """Side of the visible field of a ``size``-pixel HR image."""
    return size * config.pixel_size_nm


def form_images(
    sample: Sample, size: int, config: SimulationConfig, photon_scale: float | None = None
) -> NoiseFree:
    """Noise-free LR and HR images of ``sample`` (HR side ``size``, LR side ``size / scale``).

    Parameters
    ----------
    sample
        What is fluorescent.
    size
        HR image side in pixels; must be a multiple of ``config.scale``.
    config
        Optics, sampling and photon levels.
    photon_scale
        Photons per unit of rendered LR intensity. ``None`` scales the brightest LR pixel to
        ``config.photons``; a time-lapse passes frame 0's value so photobleaching shows.
    """
    if size % config.scale:
        raise ValueError(f"size {size} must be a multiple of the scale {config.scale}")
    margin = margin_px(config)
    visible = size * config.hr_bin
    density = render_density(sample, visible, margin, config.fine_grid_nm)
    side = next_fast_len(density.shape[0], real=True)
    spectrum = rfft2(density.astype(np.float32), s=(side, side))
    lr_fine = _image(spectrum, side, visible, config, low_resolution=True)
    hr_fine = _image(spectrum, side, visible, config, low_resolution=False)
    lr = _bin(lr_fine, config.lr_bin)
    hr = _bin(hr_fine, config.hr_bin)
    if photon_scale is None:
        peak = float(lr.max())
        photon_scale = config.photons / peak if peak > 0 else 0.0
    lr_photons = photon_scale * lr + config.lr_background + config.camera_offset
    hr_photons = (
        photon_scale * config.hr_relative_brightness * hr
        + config.hr_background
        + config.camera_offset
    )
    return NoiseFree(
        lr=lr_photons.astype(np.float32),
        hr=hr_photons.astype(np.float32),
        photon_scale=photon_scale,
    )


def add_noise(
    clean: NoiseFree, config: SimulationConfig, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Noisy (LR, HR) images drawn from the expected counts (the camera offset is not Poisson)."""
    offset = np.float32(config.camera_offset)
    return (
        detect(clean.lr - offset, config.read_noise, rng) + offset,
        detect(clean.hr - offset, config.read_noise, rng) + offset,
    )


def add_haze(clean: NoiseFree, config: SimulationConfig, rng: np.random.Generator) -> NoiseFree:
    """Add ``config.haze`` photons (at its peak) of smooth out-of-focus light to both images.

    The haze is a random field far smoother than either PSF (correlation length ~1 um), so
    imaging it is a multiplication by the PSF's integral: the HR image gets it scaled by
    ``1 / hr_to_lr_flux``, and both images stay consistent with one fluorophore density.
    """
    if config.haze <= 0:
        return clean
    side = clean.lr.shape[0]
    sigma_px = 1000.0 / config.lr_pixel_size_nm
    field = gaussian_filter(rng.random((side, side)), sigma_px, mode="wrap")
    spread = float(np.ptp(field))
    field = (field - field.min()) / spread if spread > 0 else np.zeros_like(field)
    field *= config.haze * rng.uniform(0.2, 1.0)
    fine = np.kron(field, np.ones((config.scale, config.scale)))
    return NoiseFree(
        lr=(clean.lr + field).astype(np.float32),
        hr=(clean.hr + fine / hr_to_lr_flux(config)).astype(np.float32),
        photon_scale=clean.photon_scale,
    )


def _image(
    spectrum: NDArray[np.complex64],
    side: int,
    visible: int,
    config: SimulationConfig,
    *,
    low_resolution: bool,
) -> NDArray[np.float32]:
    # A circular convolution at least as long as the density is exact on the "valid" part,
    # which is the visible field: the density carries the kernel's half width around it.
    kernel = _kernel_spectrum(config, low_resolution, side)
    full = irfft2(spectrum * kernel, s=(side, side))
    start = 2 * kernel_half_width(config)
    return np.asarray(full[start : start + visible, start : start + visible], dtype=np.float32)


@lru_cache(maxsize=16)
def _kernel_spectrum(
    config: SimulationConfig, low_resolution: bool, side: int
) -> NDArray[np.complex64]:
    modality = config.lr_modality if low_resolution else config.hr_modality
    psf = psf_for(modality, config, low_resolution=low_resolution)
    return np.asarray(rfft2(psf, s=(side, side)), dtype=np.complex64)


def _bin(image: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
    side = image.shape[0] // factor
    trimmed = image[: side * factor, : side * factor]
    return trimmed.reshape(side, factor, side, factor).mean(axis=(1, 3))


def positions_in_pixels(positions_nm: NDArray[np.float64], pixel_nm: float) -> NDArray[np.float64]:
    """Convert nm from the image corner to pixel-centre coordinates (row, column)."""
    return positions_nm / pixel_nm - 0.5


def visible(positions_nm: NDArray[np.float64], size_nm: float) -> NDArray[np.bool_]:
    """Which positions lie inside the visible field."""
    return np.all((positions_nm >= 0) & (positions_nm < size_nm), axis=1)
