"""Self-describing checkpoints: safetensors weights plus JSON metadata, never pickle.

A checkpoint is one ``.safetensors`` file. Its tensors are the generator's state dict (keys
prefixed ``generator.``) and optional extra tensors (``extra.``: discriminator, optimiser state
for resuming); its string metadata holds one JSON document (key ``tcan_live``) with the
architecture, scale, training pixel size, normalisation and a free-form description of the data
and training run. Loading parses only that JSON and raw tensor bytes, so no code is executed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from tcan_live.core.settings import FrozenModel, validation_problems
from tcan_live.model.config import GeneratorConfig, NormalizationSpec, SpectrumKind
from tcan_live.model.generator import TCANGenerator, generator_with_weights

METADATA_KEY = "tcan_live"
_GENERATOR_PREFIX = "generator."
_EXTRA_PREFIX = "extra."


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message names the file and the reason."""


class CheckpointMeta(FrozenModel):
    """What a checkpoint says about itself (stored as JSON inside the file)."""

    format_version: Literal[1] = 1
    model_name: str = "tcan"
    architecture: GeneratorConfig
    pixel_size_nm: float = Field(gt=0)
    normalization: NormalizationSpec = NormalizationSpec()
    input_fwhm_nm: float | None = Field(None, gt=0)
    data: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def scale(self) -> int:
        """Output pixels per input pixel along each axis."""
        return self.architecture.scale


@dataclass
class Checkpoint:
    """A loaded checkpoint: the generator (eval mode), its metadata and any extra tensors."""

    generator: TCANGenerator
    meta: CheckpointMeta
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def save_checkpoint(
    path: str | Path,
    generator: TCANGenerator,
    *,
    pixel_size_nm: float,
    normalization: NormalizationSpec | None = None,
    input_fwhm_nm: float | None = None,
    model_name: str = "tcan",
    data: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    extra_tensors: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``generator`` and its description to ``path`` (a ``.safetensors`` file).

    Parameters
    ----------
    path
        Destination file; parent folders are created.
    generator
        The network whose weights and architecture are saved.
    pixel_size_nm
        Pixel size of the training inputs (the runtime resamples frames to it).
    normalization
        Intensity normalisation the model was trained with.
    input_fwhm_nm
        Resolution (PSF FWHM) of the training inputs, if known: the runtime's sampling guard
        compares frames with it.
    model_name, data, training, extra
        Free-form description (JSON-serialisable) stored with the weights.
    extra_tensors
        Further named tensors (discriminator, optimiser moments) for resuming training.

    Returns
    -------
    Path
        The written file.
    """
    meta = CheckpointMeta(
        model_name=model_name,
        architecture=generator.config,
        pixel_size_nm=pixel_size_nm,
        normalization=normalization or NormalizationSpec(),
        input_fwhm_nm=input_fwhm_nm,
        data=dict(data or {}),
        training=dict(training or {}),
        extra=dict(extra or {}),
    )
    tensors = {
        _GENERATOR_PREFIX + name: value.detach().cpu().contiguous()
        for name, value in generator.state_dict().items()
    }
    for name, value in (extra_tensors or {}).items():
        tensors[_EXTRA_PREFIX + name] = value.detach().cpu().contiguous()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target), metadata={METADATA_KEY: meta.model_dump_json()})
    return target


def _refuse_non_safetensors(path: Path, reason: str) -> CheckpointError:
    with path.open("rb") as handle:
        head = handle.read(2)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return CheckpointError(
            f"{path}: this is a pickle-based torch file; tcan-live loads only safetensors "
            "checkpoints and never unpickles (unpickling can run arbitrary code). Re-save the "
            "weights with tcan_live.model.save_checkpoint in a trusted session."
        )
    return CheckpointError(f"{path}: not a safetensors checkpoint ({reason})")


def read_checkpoint_meta(path: str | Path) -> CheckpointMeta:
    """Read and validate only the metadata of a checkpoint (no tensors are loaded)."""
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"{source}: no such checkpoint file")
    try:
        with safe_open(str(source), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError) as error:
        raise _refuse_non_safetensors(source, str(error)) from None
    if raw is None:
        raise CheckpointError(
            f"{source}: safetensors file without '{METADATA_KEY}' metadata; expected a "
            "checkpoint written by tcan_live.model.save_checkpoint"
        )
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{source}: checkpoint metadata is not JSON ({error})") from None
    try:
        return CheckpointMeta.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(validation_problems(error))
        raise CheckpointError(f"{source}: invalid checkpoint metadata: {problems}") from None


def load_checkpoint(
    path: str | Path, *, spectrum: SpectrumKind = "fft", device: str | torch.device = "cpu"
) -> Checkpoint:
    """Rebuild the generator described by a checkpoint and load its weights.

    Parameters
    ----------
    path
        A file written by :func:`save_checkpoint`.
    spectrum
        Spectrum implementation of the rebuilt model (weights are the same for both).
    device
        Where to place the weights.

    Raises
    ------
    CheckpointError
        If the file is not a tcan-live safetensors checkpoint (pickle files are refused), its
        metadata is invalid, or its weights do not fit the architecture it describes.
    """
    source = Path(path)
    meta = read_checkpoint_meta(source)
    generator_state: dict[str, torch.Tensor] = {}
    extra: dict[str, torch.Tensor] = {}
    with safe_open(str(source), framework="pt", device=str(device)) as handle:
        for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
            if key.startswith(_GENERATOR_PREFIX):
                generator_state[key.removeprefix(_GENERATOR_PREFIX)] = handle.get_tensor(key)
            elif key.startswith(_EXTRA_PREFIX):
                extra[key.removeprefix(_EXTRA_PREFIX)] = handle.get_tensor(key)
    try:
        generator = generator_with_weights(meta.architecture, generator_state, spectrum)
    except ValueError as error:
        raise CheckpointError(f"{source}: {error} (the one in its metadata)") from None
    generator.to(device).eval()
    return Checkpoint(generator=generator, meta=meta, extra_tensors=extra)
