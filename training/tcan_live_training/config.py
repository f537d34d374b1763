"""The training configuration (``config/train/*.toml``), validated by frozen pydantic models.

Every section refuses unknown fields, so a misspelt key is reported with its dotted name, e.g.
``config/train/x.toml: training.lr_g: Input should be greater than 0``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from tcan_live.core.settings import (
    ConfigError,
    FrozenModel,
    validate_settings,
    validation_problems,
)
from tcan_live.model import DiscriminatorConfig, GeneratorConfig, NormalizationSpec
from tcan_live.model import generator_config as preset_generator_config
from tcan_live.simulate import SimulationConfig
from tcan_live.simulate import preset as simulation_preset

Structure = Literal["beads", "microtubules", "actin", "rings"]
Beta = Annotated[float, Field(ge=0.0, lt=1.0)]

# Fields that belong to one data kind only; setting them for the other kind is a mistake.
_SIMULATED_ONLY = frozenset(
    {
        "variety",
        "structures",
        "simulation_preset",
        "simulation",
        "target",
        "fresh_each_epoch",
        "validation_samples",
    }
)
_PAIRS_ONLY = frozenset(
    {
        "path",
        "layout",
        "lr_pattern",
        "hr_pattern",
        "validation_fraction",
        "validation_path",
        "heldout",
        "registration",
        "resample_to_nm",
        "input_fwhm_nm",
        "empty_fields",
    }
)
Span = tuple[Annotated[float, Field(ge=0.0)], Annotated[float, Field(ge=0.0)]]


class VarietyConfig(FrozenModel):
    """Per-sample ranges of the simulated physics (unset: the simulation's fixed value).

    ``photons`` and ``lr_background`` are drawn log-uniformly (a few photons to thousands),
    the others uniformly; ``haze_fraction`` is the haze's peak relative to ``photons``;
    ``pinhole_au`` lists values to choose from; ``empty_fraction`` of the samples show no
    sample at all (background, haze and noise only), so the network learns that noise maps to
    a flat image.
    """

    empty_fraction: float = Field(0.0, ge=0.0, le=1.0)
    photons: Span | None = None
    lr_background: Span | None = None
    camera_offset: Span | None = None
    read_noise: Span | None = None
    haze_fraction: Span | None = None
    vesicle_density_per_um2: Span | None = None
    pinhole_au: tuple[Annotated[float, Field(gt=0.0)], ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> VarietyConfig:
        for name in ("photons", "lr_background", "camera_offset", "read_noise", "haze_fraction"):
            span = getattr(self, name)
            if span is not None and not span[0] <= span[1]:
                raise ValueError(f"{name}: expected [low, high] with low <= high, got {span}")
        for name in ("photons", "lr_background"):
            span = getattr(self, name)
            if span is not None and span[0] <= 0:
                raise ValueError(f"{name}: drawn log-uniformly, so low must be > 0")
        return self


class EmptyFieldsConfig(FrozenModel):
    """Simulated noise-only fields mixed into a real-pair (``kind = "pairs"``) training run.

    Real pairs rarely contain a field without sample, so a network fine-tuned on them turns
    pure noise into structure. ``fraction`` of each epoch's training samples (exact, chosen
    per (seed, epoch)) are the simulator's ``"empty"`` structure instead: background, camera
    offset, read noise and haze, drawn per sample from these ranges as ``data.variety`` draws
    them, on the pairs' (resampled) input pixel grid; the target is the noise-free
    background in the input's units. Validation stays real pairs only.
    """

    fraction: float = Field(gt=0.0, lt=1.0)
    lr_background: Span = (3.0, 3000.0)
    camera_offset: Span = (0.0, 200.0)
    read_noise: Span = (0.0, 2.0)
    haze_fraction: Span = (0.0, 0.5)
    # Only scales the haze (its peak is haze_fraction x photons): an empty field has no sample.
    photons: Span = (3.0, 3000.0)
    simulation_preset: str = "confocal-sted"

    @model_validator(mode="after")
    def _valid_ranges(self) -> EmptyFieldsConfig:
        self.variety()
        return self

    def variety(self) -> VarietyConfig:
        """Return these ranges as the simulator's per-sample variety (every sample empty)."""
        ranges = self.model_dump(exclude={"fraction", "simulation_preset"})
        try:
            return VarietyConfig(empty_fraction=1.0, **ranges)
        except ValidationError as error:
            raise ValueError(validation_problems(error)[0]) from None


class AugmentConfig(FrozenModel):
    """Paired augmentation of training patches (validation patches are never augmented)."""

    random_crop: bool = True
    rotate90: bool = True
    flip: bool = True


class DataConfig(FrozenModel):
    """Where training pairs come from and how they are cut into batches.

    ``patch_size`` is the side of the network's input patch; the target patch is
    ``scale * patch_size``.
    """

    kind: Literal["simulated", "pairs"]
    # "own": LR and HR each normalised by their own percentiles (engines before 2026-12).
    # "input": the target mapped linearly into the LR's units and normalised with the LR's
    # range, so the output is linear in the input (simulation: exact physics; pairs: fitted).
    target_units: Literal["own", "input"] = "own"
    # simulated on the fly
    variety: VarietyConfig | None = None
    structures: tuple[Structure, ...] = ("microtubules",)
    simulation_preset: str = "confocal-sted"
    simulation: dict[str, Any] = Field(default_factory=dict)
    target: Literal["hr", "gt"] = "hr"
    fresh_each_epoch: bool = True
    validation_samples: int = Field(8, ge=1)
    # folders of pairs
    path: Path | None = None
    layout: Literal["auto", "lr-hr", "biosr", "suffix", "stacked"] = "auto"
    lr_pattern: str = "RawSIMData_level_*.tif*"
    hr_pattern: str = "SIM_gt*.tif*"
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    validation_path: Path | None = None
    # Fields (groups, e.g. file stems "3") never read for training or validation: the
    # held-out set the model card reports on.
    heldout: tuple[str, ...] = ()
    # "align": register HR onto LR (sub-pixel) and use the aligned HR; "check": refuse a pair
    # shifted by more than 1 LR pixel; "off": neither.
    registration: Literal["align", "check", "off"] = "check"
    # Resample both images of every pair from pixel_size_nm to this input pixel size, as the
    # runtime resamples its input frames (the engine then records this pixel size).
    resample_to_nm: float | None = Field(None, gt=0)
    # Resolution (PSF FWHM) of the inputs, stated: real pairs do not record it (simulated
    # data: measured on the simulated LR PSF). Stored as the checkpoint's input_fwhm_nm.
    input_fwhm_nm: float | None = Field(None, gt=0)
    # Simulated noise-only fields mixed into the training share (None: real pairs only).
    empty_fields: EmptyFieldsConfig | None = None
    pixel_size_nm: float | None = Field(None, gt=0)
    # both
    patch_size: int = Field(128, ge=16)
    validation_size: int | None = Field(None, ge=16)
    batch_size: int = Field(2, ge=1)
    augment: AugmentConfig = AugmentConfig()
    normalization: NormalizationSpec = NormalizationSpec()

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> DataConfig:
        other = _PAIRS_ONLY if self.kind == "simulated" else _SIMULATED_ONLY
        misplaced = sorted(self.model_fields_set & other)
        if misplaced:
            raise ValueError(f"{misplaced[0]}: not used with kind = '{self.kind}'")
        if self.kind == "pairs":
            if self.path is None:
                raise ValueError("path: required with kind = 'pairs'")
            if self.pixel_size_nm is None:
                raise ValueError(
                    "pixel_size_nm: the input pixel size is required with kind = 'pairs'"
                )
            if self.validation_path is None and self.validation_fraction == 0.0:
                raise ValueError("validation_fraction: must be > 0 unless validation_path is given")
            if self.empty_fields is not None and self.target_units != "input":
                # A flat target normalised by its own percentiles is undefined (zero spread).
                raise ValueError("empty_fields: needs target_units = 'input'")
        else:
            if not self.structures:
                raise ValueError("structures: name at least one structure")
            simulated = self.simulation_config().lr_pixel_size_nm
            if self.pixel_size_nm is not None and self.pixel_size_nm != simulated:
                raise ValueError(
                    f"pixel_size_nm: {self.pixel_size_nm} differs from the simulated input "
                    f"pixel size {simulated} (set it in data.simulation instead)"
                )
        return self

    def simulation_config(self) -> SimulationConfig:
        """Return the simulator's physics: the named preset with ``simulation`` overrides."""
        try:
            return simulation_preset(self.simulation_preset, **self.simulation)
        except ValidationError as error:
            raise ValueError(validation_problems(error, "simulation")[0]) from None

    @property
    def val_size(self) -> int:
        """Side of the (centre-cropped) validation input patches."""
        return self.validation_size or self.patch_size

    def input_resolution_nm(self) -> float | None:
        """FWHM of the inputs' PSF: stated (pairs) or fitted on the simulated LR PSF."""
        if self.kind == "pairs":
            return self.input_fwhm_nm
        from tcan_live.metrics.fwhm import fit_bead
        from tcan_live.simulate.optics import psf_for

        physics = self.simulation_config()
        psf = psf_for(physics.lr_modality, physics, low_resolution=True)
        half = psf.shape[0] // 2
        fit = fit_bead(psf, np.array([half, half]), 2 * (half // 2) + 1, physics.fine_grid_nm)
        return None if fit is None else round(fit.fwhm_nm, 1)

    def input_pixel_size_nm(self) -> float:
        """Pixel size of the network's input images (after ``resample_to_nm``)."""
        if self.kind == "simulated":
            return self.simulation_config().lr_pixel_size_nm
        assert self.pixel_size_nm is not None  # checked by the validator
        return self.resample_to_nm or self.pixel_size_nm


class ModelSection(FrozenModel):
    """The generator preset (with field overrides) and the discriminator."""

    preset: Literal["paper", "small", "dfcan", "unet"] = "small"
    scale: Literal[1, 2] = 1
    overrides: dict[str, Any] = Field(default_factory=dict)
    discriminator: DiscriminatorConfig = DiscriminatorConfig()

    @model_validator(mode="after")
    def _buildable(self) -> ModelSection:
        self.generator_config()
        return self

    def generator_config(self) -> GeneratorConfig:
        """Return the generator architecture this section describes."""
        try:
            return preset_generator_config(self.preset, self.scale, **self.overrides)
        except ValidationError as error:
            raise ValueError(validation_problems(error, "overrides")[0]) from None


class LossConfig(FrozenModel):
    """Generator loss = pixel + ssim_weight (1 - SSIM) + adversarial_weight * relativistic BCE."""

    pixel: Literal["mse", "l1"] = "mse"
    ssim_weight: float = Field(0.1, ge=0.0)
    adversarial_weight: float = Field(0.01, ge=0.0)
    warmup_epochs: int = Field(0, ge=0)
    ssim_window: int = Field(11, ge=3)
    ssim_sigma: float = Field(1.5, gt=0.0)
    # Physics consistency: physics_weight * MSE(B(G(x)), B(y)) where B blurs with a Gaussian
    # of physics_sigma_px (output pixels; None: fitted on the data, the LR's PSF less the
    # target's) and bins to the input grid; B(y) is the noise-free input the target predicts.
    physics_weight: float = Field(0.0, ge=0.0)
    physics_sigma_px: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _odd_window(self) -> LossConfig:
        if self.ssim_window % 2 == 0:
            raise ValueError(f"ssim_window: must be odd, got {self.ssim_window}")
        return self


class TrainingSection(FrozenModel):
    """Optimisers, schedule, seed and hardware."""

    epochs: int = Field(ge=1)
    steps_per_epoch: int | None = Field(None, ge=1)
    lr_g: float = Field(1e-4, gt=0.0)
    lr_d: float = Field(5e-5, gt=0.0)
    # "cosine": both learning rates fall from lr_g / lr_d to min_lr_fraction of them over all
    # configured steps, which lets a short CPU run start fast and still settle.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    min_lr_fraction: float = Field(0.01, ge=0.0, le=1.0)
    betas_g: tuple[Beta, Beta] = (0.9, 0.999)
    betas_d: tuple[Beta, Beta] = (0.9, 0.999)
    seed: int = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["none", "bf16", "fp16"] = "none"
    threads: int | None = Field(None, ge=1)


class TrainConfig(FrozenModel):
    """A whole training run, as read from one TOML file."""

    name: str = Field("tcan", min_length=1)
    description: str = ""
    data: DataConfig
    model: ModelSection = ModelSection()
    loss: LossConfig = LossConfig()
    training: TrainingSection

    @model_validator(mode="after")
    def _scales_agree(self) -> TrainConfig:
        if self.data.kind == "simulated":
            simulated = self.data.simulation_config().scale
            if simulated != self.model.scale:
                raise ValueError(
                    f"model.scale: {self.model.scale} differs from the simulation's scale "
                    f"({simulated}, preset '{self.data.simulation_preset}')"
                )
        return self


def parse_train_config(raw: dict[str, Any], source: str = "<config>") -> TrainConfig:
    """Validate a parsed TOML document; errors name ``source`` and each offending field."""
    return validate_settings(TrainConfig, raw, origin=source)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a training configuration file.

    Parameters
    ----------
    path
        A TOML file (see ``config/train/`` and docs/trainer.md for the format).

    Raises
    ------
    ConfigError
        With a one-line message naming the file and the bad field.
    """
    source = Path(path)
    if not source.is_file():
        raise ConfigError(str(source), ["no such training configuration file"])
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(source), [f"invalid TOML: {error}"]) from None
    raw.setdefault("name", source.stem)
    return parse_train_config(raw, str(source))


__all__ = [
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "ModelSection",
    "TrainConfig",
    "TrainingSection",
    "VarietyConfig",
    "load_train_config",
    "parse_train_config",
]
