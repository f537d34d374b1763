"""What tcan-live can run of a BioImage.IO model: 2D, one channel, one input and one output.

:func:`plan_import` reads a package's description and returns an :class:`ImportPlan` (tile,
scale, halo, pixel size, normalisation, weights) or raises :class:`UnsupportedPackageError` with
one line naming what is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from tcan_live.engine.manifest import EngineError, default_halo
from tcan_live.model import GeneratorConfig, NormalizationSpec

CONFIG_KEY = "tcan_live"  # our own section of a package's config

# Where our own packages name the TCAN generator (tcan_live.bioimageio.export).
TCAN_CALLABLE = ("tcan_live.model", "generator_from_architecture")
_UNITS_NM = {"nanometer": 1.0, "micrometer": 1000.0, "millimeter": 1e6}
_SPATIAL = ("y", "x")
_HARMLESS = ("ensure_dtype",)  # processing steps that change nothing tcan-live computes


class UnsupportedPackageError(EngineError):
    """A valid BioImage.IO model that tcan-live cannot run; the message says why."""


@dataclass(frozen=True)
class ImportPlan:
    """How an imported package becomes an engine."""

    name: str
    weights: Literal["onnx", "pytorch_state_dict"]
    architecture: GeneratorConfig | None
    tile: int
    scale: Literal[1, 2]
    halo: int
    max_batch: int
    pixel_size_nm: float
    normalization: NormalizationSpec
    preprocessing: tuple[str, ...]
    postprocessing: tuple[str, ...]


def _axes_by_type(axes: list[Any], what: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for axis in axes:
        kind = str(axis.type)
        if kind == "space" and str(axis.id) not in _SPATIAL:
            raise UnsupportedPackageError(
                f"{what} has a space axis {axis.id!s}: tcan-live runs 2D (y, x) models, not 3D"
            )
        if kind in ("time", "index"):
            raise UnsupportedPackageError(f"{what} has a {kind} axis: tcan-live runs 2D frames")
        found[str(axis.id) if kind == "space" else kind] = axis
    order = [str(axis.id) if str(axis.type) == "space" else str(axis.type) for axis in axes]
    if order != ["batch", "channel", "y", "x"]:
        raise UnsupportedPackageError(
            f"{what} axes ({', '.join(order)}): tcan-live runs tiles as (batch, channel, y, x)"
        )
    channel = found.get("channel")
    if channel is not None and len(channel.channel_names) != 1:
        raise UnsupportedPackageError(
            f"{what} has {len(channel.channel_names)} channels: tcan-live runs single-channel "
            "models (one engine per channel)"
        )
    return found


def _tile(axis: Any, wanted: int) -> int:
    size = axis.size
    if isinstance(size, int):
        return size
    if hasattr(size, "min") and hasattr(size, "step"):  # ParameterizedSize: min + n * step
        steps = max(0, math.ceil((wanted - size.min) / size.step)) if size.step else 0
        return int(size.min + steps * size.step)
    raise UnsupportedPackageError(
        f"input axis {axis.id!s}: size {size!r} is not a fixed or min+step size"
    )


def _pixel_size_nm(axis: Any, override: float | None) -> float:
    if override is not None:
        return override
    unit = str(axis.unit) if axis.unit is not None else None
    if unit not in _UNITS_NM:
        raise UnsupportedPackageError(
            f"input axis {axis.id!s} has no physical unit ({unit}): give the model's pixel size "
            "with --pixel-size NM"
        )
    return float(axis.scale) * _UNITS_NM[unit]


def _normalization(steps: list[Any]) -> tuple[NormalizationSpec, tuple[str, ...]]:
    names = tuple(str(step.id) for step in steps)
    ranges = [step for step in steps if str(step.id) == "scale_range"]
    others = [n for n in names if n not in (*_HARMLESS, "scale_range")]
    if others or len(ranges) != 1:
        shown = ", ".join(n for n in names if n not in _HARMLESS) or "none"
        raise UnsupportedPackageError(
            f"preprocessing {shown}: tcan-live normalises by per-frame percentiles, i.e. one "
            "scale_range step (and ensure_dtype)"
        )
    kwargs = ranges[0].kwargs
    if kwargs.reference_tensor is not None or not set(map(str, kwargs.axes or ())) >= {"y", "x"}:
        raise UnsupportedPackageError(
            "preprocessing scale_range: expected percentiles over the frame's y and x, "
            "without a reference tensor"
        )
    spec = NormalizationSpec(
        low_percentile=float(kwargs.min_percentile), high_percentile=float(kwargs.max_percentile)
    )
    return spec, names


def _scale(in_axis: Any, out_axis: Any, tile: int) -> Literal[1, 2]:
    size = out_axis.size
    if hasattr(size, "tensor_id"):  # SizeReference: input size * in scale / out scale
        ratio = float(in_axis.scale) / float(out_axis.scale) if size.offset == 0 else 0.0
    elif isinstance(size, int):
        ratio = size / tile
    else:
        ratio = 0.0
    if ratio not in (1.0, 2.0):
        raise UnsupportedPackageError(
            f"output axis {out_axis.id!s}: {ratio:g}x the input's size; tcan-live runs 1x or 2x"
        )
    return 1 if ratio == 1.0 else 2


def tcan_state_dict(description: Any) -> GeneratorConfig | None:
    """Return the TCAN architecture of the ``pytorch_state_dict`` weights, if they are TCAN."""
    state = description.weights.pytorch_state_dict
    if state is None:
        return None
    architecture = state.architecture
    if (str(getattr(architecture, "import_from", "")), str(architecture.callable)) != TCAN_CALLABLE:
        return None
    return GeneratorConfig.model_validate(architecture.kwargs)


def _weights(
    description: Any,
) -> tuple[Literal["onnx", "pytorch_state_dict"], GeneratorConfig | None]:
    """Return the weights to build from (ONNX first) and the TCAN architecture, if any."""
    weights = description.weights
    architecture = tcan_state_dict(description)
    if weights.onnx is not None:
        return "onnx", architecture
    if architecture is not None:
        return "pytorch_state_dict", architecture
    present = [name for name, entry in weights if entry is not None]
    callable_name = ""
    if weights.pytorch_state_dict is not None:
        found = weights.pytorch_state_dict.architecture
        callable_name = f" ({getattr(found, 'import_from', '')}.{found.callable})".replace(
            "(.", "("
        )
    raise UnsupportedPackageError(
        f"weights {', '.join(present)}{callable_name}: tcan-live needs onnx, or a "
        "pytorch_state_dict of the TCAN generator"
    )


def plan_import(
    description: Any,
    *,
    tile: int | None = None,
    halo: int | None = None,
    max_batch: int = 4,
    pixel_size_nm: float | None = None,
) -> ImportPlan:
    """Check a v0.5 model description and return how it becomes an engine.

    Raises
    ------
    UnsupportedPackageError
        For a 3D, multi-channel, multi-input or multi-output model, unsupported weights,
        preprocessing or postprocessing, sizes or scales; the message names the part.
    """
    for what, tensors in (("inputs", description.inputs), ("outputs", description.outputs)):
        if len(tensors) != 1:
            raise UnsupportedPackageError(
                f"{len(tensors)} {what}: tcan-live runs image-to-image models, one in, one out"
            )
    source, target = description.inputs[0], description.outputs[0]
    inputs = _axes_by_type(list(source.axes), f"input {source.id!s}")
    outputs = _axes_by_type(list(target.axes), f"output {target.id!s}")
    sizes = {_tile(inputs[name], tile or 256) for name in _SPATIAL}
    if len(sizes) != 1:
        raise UnsupportedPackageError(f"input sizes {sorted(sizes)}: tcan-live runs square tiles")
    chosen = sizes.pop()
    scale = _scale(inputs["y"], outputs["y"], chosen)
    halos = [int(getattr(outputs[name], "halo", 0) or 0) for name in _SPATIAL]
    in_halo = halo if halo is not None else math.ceil(max(halos) / scale) or default_halo(chosen)
    if 2 * in_halo >= chosen:
        raise UnsupportedPackageError(f"halo {in_halo} leaves no tile interior (tile {chosen})")
    spec, pre = _normalization(list(source.preprocessing))
    # A package tcan-live exported records the noise floor, which zoo preprocessing cannot say.
    ours = (getattr(description.config, "model_extra", None) or {}).get(CONFIG_KEY, {})
    recorded = ours.get("normalization") if isinstance(ours, dict) else None
    if isinstance(recorded, dict) and float(recorded.get("noise_floor") or 0.0) > 0:
        spec = spec.model_copy(update={"noise_floor": float(recorded["noise_floor"])})
    post = tuple(str(step.id) for step in target.postprocessing)
    if any(name not in _HARMLESS for name in post):
        raise UnsupportedPackageError(
            f"postprocessing {', '.join(post)}: tcan-live maps the output back itself "
            "(only ensure_dtype is accepted)"
        )
    weights, architecture = _weights(description)
    fixed_batch = inputs["batch"].size == 1
    return ImportPlan(
        name=str(description.name),
        weights=weights,
        architecture=architecture,
        tile=chosen,
        scale=scale,
        halo=in_halo,
        max_batch=1 if fixed_batch else max_batch,
        pixel_size_nm=_pixel_size_nm(inputs["y"], pixel_size_nm),
        normalization=spec,
        preprocessing=pre,
        postprocessing=post,
    )
