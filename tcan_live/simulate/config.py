"""Physics knobs of the simulator, as one frozen description stored with every data set.

Three presets cover the modality pairs of the papers: confocal -> STED (the default),
widefield 10x/0.4 -> 20x/0.75 (Wang et al.) and widefield -> SIM at twice the sampling (BioSR).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tcan_live.core.settings import FrozenModel

Structure = Literal["beads", "microtubules", "actin", "rings", "empty"]
# "empty" (no sample: background, haze and noise only) is for training data, not a data set.
STRUCTURES: tuple[Structure, ...] = ("beads", "microtubules", "actin", "rings")
Modality = Literal["confocal", "sted", "widefield", "sim"]
PresetName = Literal["confocal-sted", "widefield-10x-20x", "widefield-sim"]


class SimulationConfig(FrozenModel):
    """Optics, sampling, labelling and noise of one simulated LR/HR modality pair.

    Intensities are in expected photons per pixel. The brightest structure of each noise-free
    LR image is scaled to ``photons`` and the HR image shares that scale factor times
    ``hr_relative_brightness``, so HR and LR of one sample stay physically comparable.
    """

    pixel_size_nm: float = Field(50.0, gt=0, description="HR pixel size")
    fine_grid_nm: float = Field(10.0, gt=0, description="rendering grid; divides pixel sizes")
    scale: Literal[1, 2] = Field(1, description="HR pixels per LR pixel along each axis")
    lr_modality: Literal["confocal", "widefield"] = "confocal"
    hr_modality: Modality = "sted"
    lr_na: float = Field(1.4, gt=0, le=1.7)
    hr_na: float = Field(1.4, gt=0, le=1.7)
    immersion_index: float = Field(1.515, ge=1.0, le=1.8)
    excitation_nm: float = Field(633.0, gt=0)
    emission_nm: float = Field(660.0, gt=0)
    depletion_nm: float = Field(775.0, gt=0)
    pinhole_au: float = Field(1.0, gt=0)
    sted_saturation: float = Field(
        6.0, ge=0, description="zeta = I_max / I_sat of the doughnut; 0 means confocal"
    )
    sted_leak: float = Field(0.03, ge=0, lt=1, description="confocal fraction (doughnut zero)")
    sim_gain: float = Field(1.9, ge=1, le=2.5, description="SIM resolution gain over widefield")
    photons: float = Field(100.0, gt=0, description="peak photons of the brightest LR structure")
    hr_relative_brightness: float = Field(0.6, gt=0)
    lr_background: float = Field(2.0, ge=0, description="photons per LR pixel")
    hr_background: float = Field(1.0, ge=0, description="photons per HR pixel")
    read_noise: float = Field(0.5, ge=0, description="Gaussian detector noise, photons rms")
    camera_offset: float = Field(
        0.0, ge=0, description="detector offset added to every LR and HR pixel (not Poisson)"
    )
    haze: float = Field(
        0.0, ge=0, description="peak of a smooth out-of-focus background, in units of photons"
    )
    vesicle_density_per_um2: float = Field(
        0.0, ge=0, description="vesicles (80-300 nm spheres) placed beside any structure"
    )
    bead_diameter_nm: tuple[float, float] = (20.0, 40.0)
    bead_density_per_um2: float = Field(0.25, gt=0)
    bead_pair_fraction: float = Field(
        0.15, ge=0, le=1, description="beads given a partner 150-400 nm away (line profiles)"
    )
    filament_width_nm: float = Field(25.0, gt=0)
    filament_density_per_um2: float = Field(0.15, gt=0, description="filaments per um^2")
    actin_density_per_um2: float = Field(0.6, gt=0, description="actin seeds per um^2")
    ring_density_per_um2: float = Field(1.0, gt=0)
    ring_diameter_nm: float = Field(107.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> SimulationConfig:
        for name, size in (("pixel_size_nm", self.pixel_size_nm), ("lr", self.lr_pixel_size_nm)):
            ratio = size / self.fine_grid_nm
            if abs(ratio - round(ratio)) > 1e-6:
                raise ValueError(
                    f"fine_grid_nm ({self.fine_grid_nm}) must divide {name} ({size}) exactly"
                )
        low, high = self.bead_diameter_nm
        if not 0 < low <= high:
            raise ValueError(f"bead_diameter_nm must be (low, high) with 0 < low <= high: {low}")
        return self

    @property
    def lr_pixel_size_nm(self) -> float:
        """Pixel size of the LR image."""
        return self.pixel_size_nm * self.scale

    @property
    def hr_bin(self) -> int:
        """Fine-grid pixels per HR pixel along each axis."""
        return round(self.pixel_size_nm / self.fine_grid_nm)

    @property
    def lr_bin(self) -> int:
        """Fine-grid pixels per LR pixel along each axis."""
        return self.hr_bin * self.scale


def preset(name: str, **overrides: object) -> SimulationConfig:
    """Return the configuration of a named modality pair, with optional field overrides.

    Parameters
    ----------
    name
        ``"confocal-sted"`` (default physics), ``"widefield-10x-20x"`` (dry 10x/0.4 ->
        20x/0.75 on the 20x camera grid) or ``"widefield-sim"`` (NA 1.4 widefield -> SIM,
        LR on a 2x coarser grid).
    **overrides
        Any :class:`SimulationConfig` field.
    """
    presets: dict[str, dict[str, object]] = {
        "confocal-sted": {},
        "widefield-10x-20x": {
            "pixel_size_nm": 320.0,
            "fine_grid_nm": 40.0,
            "lr_modality": "widefield",
            "hr_modality": "widefield",
            "lr_na": 0.4,
            "hr_na": 0.75,
            "immersion_index": 1.0,
            "excitation_nm": 488.0,
            "emission_nm": 525.0,
            "hr_relative_brightness": 1.0,
            "bead_density_per_um2": 0.01,
            "filament_density_per_um2": 0.005,
            "actin_density_per_um2": 0.02,
            "ring_density_per_um2": 0.03,
        },
        "widefield-sim": {
            "pixel_size_nm": 30.0,
            "scale": 2,
            "lr_modality": "widefield",
            "hr_modality": "sim",
            "excitation_nm": 488.0,
            "emission_nm": 525.0,
            "hr_relative_brightness": 1.0,
        },
    }
    if name not in presets:
        raise ValueError(f"unknown simulation preset {name!r}; expected one of {sorted(presets)}")
    return SimulationConfig.model_validate({**presets[name], **overrides})
