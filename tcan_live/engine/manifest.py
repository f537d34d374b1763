"""``manifest.json``: what an engine folder holds and what it was built for.

Every engine folder carries one manifest beside its files. It names the model (architecture,
training pixel size, normalisation), the tiling the engine was compiled for, the backend and
precision, the SHA-256 of every file the backend loads and, for TensorRT, the GPU and TensorRT
version the plan is tied to. :func:`tcan_live.engine.load.load_backend` checks all of it before
anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from tcan_live.core.settings import FrozenModel, validation_problems
from tcan_live.model import GeneratorConfig, NormalizationSpec

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION: Literal[1] = 1

Precision = Literal["fp32", "fp16", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16")


def _registered(name: str) -> str:
    from tcan_live.engine.registry import BACKENDS  # the registry imports this module

    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS.names())}")
    return name


BackendName = Annotated[str, AfterValidator(_registered)]
"""A backend's name: any registered in :mod:`tcan_live.engine.registry`."""

_SHA256 = r"^[0-9a-f]{64}$"
_FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # a plain name inside the engine folder, no paths


def default_halo(tile: int) -> int:
    """Overlap (pixels per side, input grid) used when an engine is built without ``--halo``.

    The network's theoretical receptive field (deep U-net, global spectral attention) exceeds
    any practical tile, so the halo is set by the measured seam error instead: see the tiling
    tests and README.
    """
    return max(8, tile // 8)


class EngineError(ValueError):
    """An engine folder cannot be built or loaded; the message is one line saying why."""


class ParityFigures(FrozenModel):
    """How far the engine's output is from the torch fp32 reference on the probe tiles.

    ``max_rel_error`` is the largest absolute difference divided by the reference output's
    range (max - min), so it does not depend on the model's intensity scale.
    """

    max_abs_error: float = Field(ge=0)
    max_rel_error: float = Field(ge=0)
    tolerance: float = Field(ge=0)
    reference: str = "torch fp32 (fft spectrum)"
    probe: str
    device: str


class ImportedPackage(FrozenModel):
    """Where an engine imported from a BioImage.IO model package came from.

    ``weights`` is the package's weights format the engine was built from; ``preprocessing``
    and ``postprocessing`` name the package's steps as recorded there (the percentiles are in
    the manifest's ``normalization``; output is mapped back to the input's range by them).
    """

    package: str
    package_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str
    format_version: str
    weights: Literal["onnx", "pytorch_state_dict"]
    preprocessing: tuple[str, ...]
    postprocessing: tuple[str, ...]


class TileVariant(FrozenModel):
    """One more tile size an engine was compiled for, with its own ONNX and engine file.

    The runtime picks, per frame size, the tile whose plan costs the least
    (:func:`tcan_live.runtime.tiling.choose_tile`): the seconds per pixel the build measured
    for each size, or FLOPs in manifests without them; every variant shares the engine's halo,
    batch range, precision and backend, and passed the same parity check.
    """

    tile: int = Field(ge=16)
    onnx_file: str = Field(pattern=_FILE_NAME)
    onnx_sha256: str = Field(pattern=_SHA256)
    engine_file: str = Field(pattern=_FILE_NAME)
    engine_sha256: str = Field(pattern=_SHA256)
    parity: ParityFigures
    onnx_parity: ParityFigures
    flops_per_pixel: float | None = Field(None, gt=0)
    seconds_per_pixel: float | None = Field(None, gt=0)


def per_pixel_costs(
    tiles: Sequence[int],
    seconds: Sequence[float | None],
    flops: Sequence[float | None],
) -> dict[int, float] | None:
    """Return the cost per computed pixel of each tile size, for choosing one per frame.

    The seconds the build measured when every size has them (they rank bf16 and fp32 engines
    as they run), else FLOPs when every size has those, else None (the first tile only).
    """
    for costs in (seconds, flops):
        if all(cost is not None for cost in costs):
            return {tile: float(cost or 0) for tile, cost in zip(tiles, costs, strict=True)}
    return None


class EngineManifest(FrozenModel):
    """Contents of ``manifest.json`` (see ``docs/engines.md`` for every field).

    ``architecture`` is None for a foreign network imported from a BioImage.IO package
    (``imported_from`` says which); such an engine runs on onnxruntime or TensorRT only.
    """

    format_version: Literal[1] = FORMAT_VERSION
    model_name: str
    preset: str
    architecture: GeneratorConfig | None
    scale: Literal[1, 2]
    pixel_size_nm: float = Field(gt=0)
    normalization: NormalizationSpec
    input_fwhm_nm: float | None = Field(None, gt=0)
    tile: int = Field(ge=16)
    halo: int = Field(ge=0)
    min_batch: int = Field(1, ge=1)
    max_batch: int = Field(ge=1)
    precision: Precision
    backend: BackendName
    backend_version: str
    onnx_file: str = Field(pattern=_FILE_NAME)
    onnx_sha256: str = Field(pattern=_SHA256)
    onnx_opset: int = Field(ge=1)
    onnx_precision: Precision
    engine_file: str = Field(pattern=_FILE_NAME)
    engine_sha256: str = Field(pattern=_SHA256)
    checkpoint_name: str
    checkpoint_sha256: str = Field(pattern=_SHA256)
    checkpoint_path: str
    parity: ParityFigures
    onnx_parity: ParityFigures
    torch_compile: bool = False
    created: datetime
    tcan_live_version: str
    gpu_name: str | None = None
    compute_capability: str | None = None
    tensorrt_version: str | None = None
    imported_from: ImportedPackage | None = None
    # Optional: manifests written before several tile sizes existed have none of these.
    flops_per_pixel: float | None = Field(None, gt=0)
    seconds_per_pixel: float | None = Field(None, gt=0)
    extra_tiles: tuple[TileVariant, ...] = ()

    @property
    def tile_costs(self) -> dict[int, float] | None:
        """Cost per computed pixel of each tile size (see :func:`per_pixel_costs`)."""
        return per_pixel_costs(
            self.tile_sizes,
            [self.seconds_per_pixel, *(v.seconds_per_pixel for v in self.extra_tiles)],
            [self.flops_per_pixel, *(v.flops_per_pixel for v in self.extra_tiles)],
        )

    @property
    def tile_sizes(self) -> tuple[int, ...]:
        """Every tile size the engine runs: ``tile`` first, then the extra ones."""
        return (self.tile, *(variant.tile for variant in self.extra_tiles))

    def for_tile(self, tile: int) -> EngineManifest:
        """Return the single-tile manifest for ``tile`` (its files and parity)."""
        if tile == self.tile:
            return self.model_copy(update={"extra_tiles": ()})
        for variant in self.extra_tiles:
            if variant.tile == tile:
                fields = variant.model_dump(exclude={"tile"})
                figures = {"parity": variant.parity, "onnx_parity": variant.onnx_parity}
                return self.model_copy(
                    update={**fields, **figures, "tile": tile, "extra_tiles": ()}
                )
        raise EngineError(f"the engine has no tile {tile} (it has {self.tile_sizes})")

    @model_validator(mode="after")
    def _consistent(self) -> EngineManifest:
        if self.architecture is None and self.imported_from is None:
            raise ValueError("architecture is missing (only imported engines have none)")
        if self.architecture is not None and self.scale != self.architecture.scale:
            raise ValueError(f"scale {self.scale} differs from architecture.scale")
        if self.min_batch > self.max_batch:
            raise ValueError(f"min_batch {self.min_batch} exceeds max_batch {self.max_batch}")
        if 2 * self.halo >= min(self.tile_sizes):
            raise ValueError(
                f"halo {self.halo} leaves no tile interior (tile {min(self.tile_sizes)})"
            )
        if len(set(self.tile_sizes)) != len(self.tile_sizes):
            raise ValueError(f"tile sizes {self.tile_sizes} repeat")
        if self.engine_file == self.onnx_file and self.engine_sha256 != self.onnx_sha256:
            raise ValueError("engine_file is onnx_file but their sha256 differ")
        from tcan_live.engine.registry import backend_kind  # the registry imports this module

        tied = (self.gpu_name, self.compute_capability, self.tensorrt_version)
        if backend_kind(self.backend).tied_to_gpu and None in tied:
            raise ValueError(
                f"a {self.backend} manifest needs gpu_name, compute_capability and "
                "tensorrt_version (the plan runs only where it was built)"
            )
        return self

    def rebuild_command(self, out: str | Path) -> str:
        """Return the exact ``tcan-live build-engine`` command that builds this engine again."""
        if self.imported_from is not None:
            return (
                f"tcan-live build-engine {self.imported_from.package} --tile {self.tile} "
                f"--halo {self.halo} --max-batch {self.max_batch} --out {out}"
            )
        parts = [
            "tcan-live build-engine",
            self.checkpoint_name,
            f"--backend {self.backend}",
            f"--precision {self.precision}",
            *(f"--tile {tile}" for tile in self.tile_sizes),
            f"--halo {self.halo}",
            f"--max-batch {self.max_batch}",
        ]
        if self.torch_compile:
            parts.append("--torch-compile")
        parts.append(f"--out {out}")
        return " ".join(parts)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: EngineManifest) -> Path:
    """Write ``manifest`` as ``folder/manifest.json`` and return the path."""
    path = folder / MANIFEST_NAME
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: str | Path) -> EngineManifest:
    """Read and validate ``folder/manifest.json``.

    Raises
    ------
    EngineError
        If the folder or manifest is missing, is not JSON, has another format version or a
        field is invalid; the message names the file and the field.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise EngineError(f"{path}: no engine manifest (expected a folder from build-engine)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EngineError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise EngineError(f"{path}: expected a JSON object")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise EngineError(
            f"{path}: format_version {version!r} is not supported (this tcan-live reads "
            f"{FORMAT_VERSION}); rebuild the engine with this version's tcan-live build-engine"
        )
    try:
        return EngineManifest.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(validation_problems(error))
        raise EngineError(f"{path}: invalid field {problems}") from None
