"""The papers' image measurements: bead FWHM, SNR, resolution, scores, errors, noise.

Everything here works on plain 2D numpy arrays with a pixel size, so the evaluation command,
the trainer and the live daemon report the same numbers the same way.
"""

from tcan_live.metrics.error_map import ErrorMap, error_map
from tcan_live.metrics.fwhm import BeadFit, FwhmResult, bead_fwhm, detect_beads
from tcan_live.metrics.intensity import IntensityRange, percentile_range, percentile_statistics
from tcan_live.metrics.noise import NoiseModel, fit_noise_model, noise_sigma
from tcan_live.metrics.quality import Quality, quality
from tcan_live.metrics.registration import align_pair, register_translation, shift_image
from tcan_live.metrics.resolution import decorrelation_resolution, frc_resolution
from tcan_live.metrics.snr import Regions, regions_from, snr

__all__ = [
    "BeadFit",
    "ErrorMap",
    "FwhmResult",
    "IntensityRange",
    "NoiseModel",
    "Quality",
    "Regions",
    "align_pair",
    "bead_fwhm",
    "decorrelation_resolution",
    "detect_beads",
    "error_map",
    "fit_noise_model",
    "noise_sigma",
    "frc_resolution",
    "percentile_range",
    "percentile_statistics",
    "quality",
    "regions_from",
    "register_translation",
    "shift_image",
    "snr",
]
