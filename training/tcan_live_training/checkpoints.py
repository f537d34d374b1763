"""Training checkpoints: ``best``/``last`` files, resuming, and ``--init`` transfer learning.

Both files are ordinary :func:`tcan_live.model.save_checkpoint` files (loadable by
``load_checkpoint`` and ``build-engine``) with the discriminator's weights as extra tensors;
``last`` also carries the optimiser moments, counters and RNG state needed to resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tcan_live.model import CheckpointError, load_checkpoint, save_checkpoint
from tcan_live_training.config import TrainConfig
from tcan_live_training.gan import TcanGan
from tcan_live_training.state import (
    load_module_tensors,
    load_optimizer_state,
    module_tensors,
    optimizer_state,
    restore_rng,
    rng_tensors,
)

_D = "discriminator."
_OPT_G = "optimizer_g."
_OPT_D = "optimizer_d."
# Settings a resumed run may change: they do not alter what is computed (epochs extends it;
# the discriminator's initialisation is overwritten by the saved weights).
_RESUMABLE_CHANGES = frozenset(
    {"training.epochs", "training.device", "training.threads", "model.discriminator.init"}
)
_NO_DEFAULT = object()


class TrainingError(ValueError):
    """A run cannot start or continue; the message says which file or option and why."""


@dataclass
class RunState:
    """Where a run stands: the next epoch to train and the best result so far."""

    epoch: int = 0
    step: int = 0
    best_val_loss: float = float("inf")
    best_epoch: int = -1
    elapsed_s: float = 0.0


def save_training_checkpoint(
    path: Path,
    gan: TcanGan,
    *,
    config: TrainConfig,
    state: RunState,
    description: dict[str, Any],
    training: dict[str, Any],
    resumable: bool,
) -> Path:
    """Write the generator with its description; with ``resumable`` the full training state."""
    tensors = module_tensors(gan.discriminator, _D)
    extra: dict[str, Any] = {}
    if resumable:
        tensors_g, meta_g = optimizer_state(gan.optimizer_g, _OPT_G)
        tensors_d, meta_d = optimizer_state(gan.optimizer_d, _OPT_D)
        tensors |= tensors_g | tensors_d | rng_tensors()
        extra["resume"] = {
            "epoch": state.epoch,
            "step": state.step,
            "best_val_loss": state.best_val_loss,
            "best_epoch": state.best_epoch,
            "elapsed_s": state.elapsed_s,
            "optimizer_g": meta_g,
            "optimizer_d": meta_d,
            "scaler_g": gan.scaler_g.state_dict(),
            "scaler_d": gan.scaler_d.state_dict(),
        }
    return save_checkpoint(
        path,
        gan.generator,
        pixel_size_nm=config.data.input_pixel_size_nm(),
        input_fwhm_nm=config.data.input_resolution_nm(),
        normalization=config.data.normalization,
        model_name=config.name,
        data=description,
        training=training,
        extra=extra,
        extra_tensors=tensors,
    )


def _flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and value:
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


def _field_default(dotted: str) -> Any:
    """Return the default of a configuration field, e.g. ``training.lr_schedule``.

    Fields added after a checkpoint was written are missing from its saved configuration; the
    run that wrote it behaved as their default does.
    """
    model: type[BaseModel] = TrainConfig
    *sections, name = dotted.split(".")
    for section in sections:
        field = model.model_fields.get(section)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return _NO_DEFAULT
        model = annotation
    field = model.model_fields.get(name)
    if field is None or field.is_required():
        return _NO_DEFAULT
    default = field.get_default(call_default_factory=True)
    return list(default) if isinstance(default, tuple) else default  # as JSON gives it


def resume_training(path: Path, gan: TcanGan, config: TrainConfig) -> RunState:
    """Load the state saved in ``path`` (a ``last.safetensors``) into ``gan``.

    Raises
    ------
    TrainingError
        If the file is missing, holds no resumable state, or was written by a run whose
        configuration differs in anything but epochs (constant learning rates only), device or
        threads.
    """
    if not path.is_file():
        raise TrainingError(f"--resume: {path} does not exist; nothing to resume")
    try:
        checkpoint = load_checkpoint(path, device=gan.device)
    except CheckpointError as error:
        raise TrainingError(f"--resume: {error}") from None
    saved_state = checkpoint.meta.extra.get("resume")
    if saved_state is None:
        raise TrainingError(f"--resume: {path} holds no resumable training state")
    saved = _flatten(checkpoint.meta.training.get("config", {}))
    wanted = _flatten(config.model_dump(mode="json"))
    changeable = _RESUMABLE_CHANGES
    if config.training.lr_schedule != "constant":
        changeable = changeable - {"training.epochs"}  # the schedule spans the epochs
    for field in sorted(saved.keys() | wanted.keys()):
        was = saved[field] if field in saved else _field_default(field)
        if field not in changeable and was != wanted.get(field):
            shown = "unset" if was is _NO_DEFAULT else repr(was)
            raise TrainingError(
                f"--resume: {path} was trained with {field} = {shown}, the config "
                f"says {wanted.get(field)!r}; resume with the same configuration"
            )
    tensors = checkpoint.extra_tensors
    gan.generator.load_state_dict(checkpoint.generator.state_dict())
    load_module_tensors(gan.discriminator, tensors, _D)
    load_optimizer_state(gan.optimizer_g, tensors, saved_state["optimizer_g"], _OPT_G)
    load_optimizer_state(gan.optimizer_d, tensors, saved_state["optimizer_d"], _OPT_D)
    if saved_state["scaler_g"]:
        gan.scaler_g.load_state_dict(saved_state["scaler_g"])
    if saved_state["scaler_d"]:
        gan.scaler_d.load_state_dict(saved_state["scaler_d"])
    restore_rng(tensors)
    return RunState(
        epoch=saved_state["epoch"],
        step=saved_state["step"],
        best_val_loss=saved_state["best_val_loss"],
        best_epoch=saved_state["best_epoch"],
        elapsed_s=saved_state["elapsed_s"],
    )


def initialize_from(path: Path, gan: TcanGan) -> dict[str, Any]:
    """Start from another run's weights (transfer learning, e.g. from a bead model).

    The checkpoint must describe exactly the configured generator architecture; its
    discriminator is taken too when it has one of the configured shape.

    Returns
    -------
    dict
        What was loaded (stored in the new checkpoints' training description).

    Raises
    ------
    TrainingError
        If the checkpoint cannot be read or its architecture differs (naming the field).
    """
    try:
        checkpoint = load_checkpoint(path, device=gan.device)
    except CheckpointError as error:
        raise TrainingError(f"--init: {error}") from None
    theirs = checkpoint.meta.architecture.model_dump()
    ours = gan.generator.config.model_dump()
    for field, value in ours.items():
        if theirs[field] != value:
            raise TrainingError(
                f"--init {path}: architecture differs from the config's model in {field} "
                f"({theirs[field]!r} in the checkpoint, {value!r} configured; checkpoint preset "
                f"{theirs['preset']!r}, config preset {ours['preset']!r}); transfer learning "
                "needs the same architecture"
            )
    gan.generator.load_state_dict(checkpoint.generator.state_dict())
    try:
        loaded_d = load_module_tensors(gan.discriminator, checkpoint.extra_tensors, _D)
    except RuntimeError:
        loaded_d = False  # a differently shaped discriminator: start it fresh
    return {
        "checkpoint": str(path),
        "model_name": checkpoint.meta.model_name,
        "pixel_size_nm": checkpoint.meta.pixel_size_nm,
        "discriminator_loaded": loaded_d,
    }
