"""``tcan-live build-engine model.zip|rdf.yaml``: a BioImage.IO model package as an engine.

ONNX weights become an onnxruntime engine whose parity is measured against the package's own
test tensors; a ``pytorch_state_dict`` of the TCAN generator becomes a checkpoint and takes
the regular build (ONNX export, parity against torch fp32). The manifest records the package,
its pre- and postprocessing, scale, halo and pixel size.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.bioimageio.export import scale_range
from tcan_live.bioimageio.plan import (
    CONFIG_KEY,
    ImportPlan,
    UnsupportedPackageError,
    plan_import,
    tcan_state_dict,
)
from tcan_live.bioimageio.quiet import closing_leaks
from tcan_live.core.version import __version__
from tcan_live.engine.build import BuildResult, build_engine
from tcan_live.engine.manifest import (
    MANIFEST_NAME,
    EngineError,
    EngineManifest,
    ImportedPackage,
    ParityFigures,
    sha256_bytes,
    sha256_file,
    write_manifest,
)
from tcan_live.engine.ort_backend import OnnxRuntimeBackend
from tcan_live.engine.parity import DEFAULT_TOLERANCE, require_parity
from tcan_live.engine.registry import backend_kind
from tcan_live.model import generator_from_architecture, save_checkpoint

ONNX_FILE = "model.onnx"
PACKAGE_SUFFIXES = (".zip", ".yaml", ".yml")


def is_package(path: Path) -> bool:
    """Whether ``path`` names a BioImage.IO package (``.zip``) or description (``rdf.yaml``)."""
    return path.suffix.lower() in PACKAGE_SUFFIXES


def load_package(path: Path) -> Any:
    """Load and validate a package's model description (any 0.4/0.5 converted to 0.5).

    Raises
    ------
    EngineError
        The file is missing, not a model, or invalid; one line with the first problem.
    """
    if not path.is_file():
        raise EngineError(f"{path}: no such BioImage.IO package")
    from bioimageio.spec import InvalidDescr, load_model_description

    try:
        with closing_leaks():
            description = load_model_description(path, format_version="latest")
    except (ValueError, OSError) as error:
        # bioimageio.spec lists every problem on a line of its own below a heading.
        lines = [line.strip("- ") for line in str(error).splitlines() if line.strip()] or ["?"]
        first = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
        raise EngineError(f"{path}: invalid BioImage.IO model description ({first})") from None
    if isinstance(description, InvalidDescr):
        errors = description.validation_summary.errors
        first = f"{'.'.join(map(str, errors[0].loc))}: {errors[0].msg}" if errors else "invalid"
        raise EngineError(f"{path}: invalid BioImage.IO model description ({first})")
    return description


def _test_tensors(description: Any) -> tuple[np.ndarray, np.ndarray]:
    from bioimageio.spec.utils import load_array

    source, target = description.inputs[0], description.outputs[0]
    if source.test_tensor is None or target.test_tensor is None:
        raise UnsupportedPackageError("the package has no test tensors to check the engine against")
    with closing_leaks():
        return (
            np.asarray(load_array(source.test_tensor), np.float32),
            np.asarray(load_array(target.test_tensor), np.float32),
        )


def _onnx_parity(
    model: bytes, plan: ImportPlan, description: Any, tolerance: float
) -> ParityFigures:
    """Run the ONNX on the package's test input (our normalisation) against its test output."""
    import onnxruntime

    test_input, expected = _test_tensors(description)
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    (output,) = session.run(None, {name: scale_range(test_input, plan.normalization)})
    output = np.asarray(output, np.float32)
    if output.shape != expected.shape:
        raise EngineError(f"test output shape {output.shape}: the package expects {expected.shape}")
    difference = float(np.abs(output - expected).max())
    spread = float(expected.max() - expected.min()) or 1.0
    return ParityFigures(
        max_abs_error=difference,
        max_rel_error=difference / spread,
        tolerance=tolerance,
        reference="the package's test output",
        probe=f"the package's test input {'x'.join(map(str, test_input.shape))}",
        device="cpu (onnxruntime)",
    )


def _check_tile(model: bytes, plan: ImportPlan) -> None:
    """Check that the network takes a batch of tiles and returns them ``scale`` times larger."""
    backend = OnnxRuntimeBackend(model, plan.tile, plan.scale, plan.max_batch, threads=1)
    try:
        tiles = np.zeros((plan.max_batch, 1, plan.tile, plan.tile), np.float32)
        shape = backend.run(tiles).shape
    except EngineError:
        raise
    except Exception as error:  # onnxruntime's own errors: the graph rejects the tile shape
        raise EngineError(f"the ONNX does not run {plan.tile} px tiles ({error})") from None
    finally:
        backend.close()
    side = plan.tile * plan.scale
    if shape != (plan.max_batch, 1, side, side):
        raise EngineError(f"the ONNX returns {shape} for {plan.tile} px tiles: expected {side} px")


def _origin(path: Path, plan: ImportPlan, description: Any) -> ImportedPackage:
    return ImportedPackage(
        package=str(path.resolve()),
        package_sha256=sha256_file(path),
        name=plan.name,
        format_version=str(description.format_version),
        weights=plan.weights,
        preprocessing=plan.preprocessing,
        postprocessing=plan.postprocessing,
    )


def _import_onnx(
    path: Path, plan: ImportPlan, description: Any, out: Path, log: Any
) -> BuildResult:
    with closing_leaks():
        model = description.weights.onnx.get_reader().read()
    log(f"ONNX weights (opset {description.weights.onnx.opset_version}), tile {plan.tile}")
    _check_tile(model, plan)
    parity = _onnx_parity(model, plan, description, DEFAULT_TOLERANCE["fp32"])
    require_parity(parity, "imported ONNX")
    kind = backend_kind("onnxruntime", "fp32")
    ours = (getattr(description.config, "model_extra", None) or {}).get(CONFIG_KEY, {})
    manifest = EngineManifest(
        model_name=plan.name,
        preset=str(plan.architecture.preset) if plan.architecture else "bioimageio",
        architecture=plan.architecture,
        scale=plan.scale,
        pixel_size_nm=plan.pixel_size_nm,
        normalization=plan.normalization,
        tile=plan.tile,
        halo=plan.halo,
        max_batch=plan.max_batch,
        precision="fp32",
        backend=kind.name,
        backend_version=kind.installed_version() or "unknown",
        onnx_file=ONNX_FILE,
        onnx_sha256=sha256_bytes(model),
        onnx_opset=int(description.weights.onnx.opset_version),
        onnx_precision="fp32",
        engine_file=ONNX_FILE,
        engine_sha256=sha256_bytes(model),
        checkpoint_name=path.name,
        checkpoint_sha256=str(ours.get("checkpoint_sha256", sha256_file(path))),
        checkpoint_path=str(path.resolve()),
        parity=parity,
        onnx_parity=parity,
        created=datetime.now(UTC),
        tcan_live_version=__version__,
        imported_from=_origin(path, plan, description),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # never a manifest vouching for old files
    (out / ONNX_FILE).write_bytes(model)
    write_manifest(out, manifest)
    files = {name: (out / name).stat().st_size for name in (ONNX_FILE, MANIFEST_NAME)}
    return BuildResult(out, manifest, files)


def _import_state_dict(
    path: Path, plan: ImportPlan, description: Any, out: Path, backend: str, log: Any
) -> BuildResult:
    import torch

    architecture = tcan_state_dict(description)
    assert architecture is not None
    weights = description.weights.pytorch_state_dict
    log("pytorch_state_dict of the TCAN generator: rebuilding it as a checkpoint")
    with tempfile.TemporaryDirectory(prefix="tcan-import-") as staging_name:
        staging = Path(staging_name)
        state_path = staging / "weights.pt"
        with closing_leaks():
            state_path.write_bytes(weights.get_reader().read())
        state = torch.load(state_path, map_location="cpu", weights_only=True)  # tensors only
        generator = generator_from_architecture(**architecture.model_dump(mode="json"))
        generator.load_state_dict(state)
        checkpoint = save_checkpoint(
            staging / f"{plan.name}.safetensors",
            generator,
            pixel_size_nm=plan.pixel_size_nm,
            normalization=plan.normalization,
            model_name=plan.name,
            extra={"bioimageio_package": str(path.resolve())},
        )
        result = build_engine(
            checkpoint,
            backend,
            out,
            tile=plan.tile,
            halo=plan.halo,
            max_batch=plan.max_batch,
            log=log,
        )
    manifest = result.manifest.model_copy(
        update={
            "imported_from": _origin(
                path, dataclasses.replace(plan, weights="pytorch_state_dict"), description
            )
        }
    )
    write_manifest(out, manifest)
    return BuildResult(out, manifest, result.files)


def import_package(
    package: str | Path,
    out: str | Path,
    *,
    backend: str = "onnxruntime",
    tile: int | None = None,
    halo: int | None = None,
    max_batch: int = 4,
    pixel_size_nm: float | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Build an engine folder ``out`` from a BioImage.IO package (``.zip`` or ``rdf.yaml``).

    Raises
    ------
    EngineError
        The package is invalid, unsupported (:class:`UnsupportedPackageError`: 3D, several inputs,
        unsupported weights or processing) or its engine fails the parity check.
    """
    # The description keeps the package's zip open until it is freed: free it inside.
    with closing_leaks():
        return _import(Path(package), Path(out), backend, tile, halo, max_batch, pixel_size_nm, log)


def _import(
    path: Path,
    out: Path,
    backend: str,
    tile: int | None,
    halo: int | None,
    max_batch: int,
    pixel_size_nm: float | None,
    log: Callable[[str], None],
) -> BuildResult:
    description = load_package(path)
    log(
        f"{path.name}: BioImage.IO model {description.name!s} (format {description.format_version})"
    )
    plan = plan_import(
        description, tile=tile, halo=halo, max_batch=max_batch, pixel_size_nm=pixel_size_nm
    )
    if plan.weights == "onnx" and backend == "onnxruntime":
        return _import_onnx(path, plan, description, out, log)
    if tcan_state_dict(description) is not None:
        return _import_state_dict(path, plan, description, out, backend, log)
    raise UnsupportedPackageError(
        f"--backend {backend}: this package's network runs on onnxruntime"
    )
