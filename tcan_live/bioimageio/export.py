"""``tcan-live export-bioimageio``: an engine as a BioImage Model Zoo package (spec 0.5).

The package holds the engine's own ONNX and the same weights as a ``pytorch_state_dict`` of
the TCAN generator (rebuilt by :func:`tcan_live.model.generator_from_architecture`), input and
output axes with the engine's physical pixel size, the engine's percentile normalisation as
``scale_range`` preprocessing, its halo, test tensors the engine itself computed, a cover, the
model card as documentation, and the TCAN and DFCAN papers as citations.

tcan-live maps the network's output back to the input's intensities with the same two
percentiles; spec 0.5 has no postprocessing that inverts ``scale_range`` per sample, so the
package's output stays in the normalised range (input's low percentile = 0, high = 1).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from tcan_live.bioimageio.cite import AUTHORS, CITATIONS, LICENSE, TAGS
from tcan_live.bioimageio.images import cover_image
from tcan_live.bioimageio.plan import CONFIG_KEY
from tcan_live.bioimageio.quiet import closing_leaks
from tcan_live.core.settings import validation_problems
from tcan_live.engine.load import load_engine
from tcan_live.engine.manifest import EngineError, EngineManifest, read_manifest, sha256_file
from tcan_live.engine.parity import filament_image
from tcan_live.model import GeneratorConfig, NormalizationSpec, load_checkpoint

INPUT_ID, OUTPUT_ID = "raw", "super_resolved"
# scale_range's default epsilon, kept explicit: the test output is computed with the same one.
EPSILON = 1e-6
# Raw-like intensities of the test image: a camera offset plus a bright filament signal.
_TEST_OFFSET, _TEST_SIGNAL = 100.0, 3000.0


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the package and the figures of its test tensors."""

    package: Path
    name: str
    test_input_shape: tuple[int, ...]
    files: tuple[str, ...]


def scale_range(image: np.ndarray, spec: NormalizationSpec) -> np.ndarray:
    """Normalise as the package's ``scale_range`` preprocessing does (per sample, over y, x)."""
    low, high = np.percentile(image, [spec.low_percentile, spec.high_percentile])
    return ((image - low) / (high - low + EPSILON)).astype(np.float32)


def _checkpoint(folder: Path, manifest: EngineManifest) -> Path:
    """Return the engine's checkpoint: beside the engine, or where it was built from."""
    for candidate in (folder / manifest.checkpoint_name, Path(manifest.checkpoint_path)):
        if candidate.is_file() and sha256_file(candidate) == manifest.checkpoint_sha256:
            return candidate
    raise EngineError(
        f"{folder}: its checkpoint {manifest.checkpoint_name} (sha256 "
        f"{manifest.checkpoint_sha256[:12]}...) is neither in the engine folder nor at "
        f"{manifest.checkpoint_path}: the state-dict weights come from it"
    )


def _documentation(folder: Path, manifest: EngineManifest) -> str:
    card = folder / "MODEL_CARD.md"
    body = card.read_text(encoding="utf-8") if card.is_file() else f"# {manifest.model_name}\n"
    return (
        body.rstrip()
        + "\n\n## Using this package\n\n"
        + "Input: one 2D single-channel frame at "
        + f"{manifest.pixel_size_nm:g} nm pixels, {manifest.tile} x {manifest.tile} px; "
        + "larger frames are tiled with a halo of "
        + f"{manifest.halo} px. Preprocessing maps the frame's "
        + f"{manifest.normalization.low_percentile:g}th and "
        + f"{manifest.normalization.high_percentile:g}th percentiles to 0 and 1; the output stays "
        + "in that range (multiply by the input's percentile range and add its low percentile "
        + "to return to the input's intensities, as tcan-live does).\n\n"
        + _noise_floor_text(manifest)
        + "In tcan-live: `tcan-live build-engine model.zip --out engines/NAME` imports it back.\n"
    )


def _noise_floor_text(manifest: EngineManifest) -> str:
    """Return what zoo preprocessing cannot say: the floor on the percentile range."""
    floor = manifest.normalization.noise_floor
    if not floor:
        return ""
    return (
        f"tcan-live also keeps the percentile range at least {floor:g} times the frame's own "
        "noise standard deviation, so a frame of pure noise is not stretched to look like a "
        "sample; this package's `scale_range` cannot express that, so other tools differ from "
        "tcan-live on nearly empty frames only (it is kept in `config.tcan_live` and restored "
        "by `tcan-live build-engine`).\n\n"
    )


def _description_text(folder: Path, manifest: EngineManifest) -> str:
    card = folder / "MODEL_CARD.md"
    if card.is_file():
        paragraphs = [p for p in card.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        lines = [p for p in paragraphs if not p.lstrip().startswith("#")]
        if lines:
            return " ".join(lines[0].split())
    return f"TCAN super-resolution engine {manifest.model_name}"


def _axes(manifest: EngineManifest) -> tuple[list[Any], list[Any]]:
    from bioimageio.spec.model.v0_5 import (
        AxisId,
        BatchAxis,
        ChannelAxis,
        Identifier,
        SizeReference,
        SpaceInputAxis,
        SpaceOutputAxisWithHalo,
        TensorId,
    )

    inputs: list[Any] = [BatchAxis(), ChannelAxis(channel_names=[Identifier("intensity")])]
    outputs: list[Any] = [BatchAxis(), ChannelAxis(channel_names=[Identifier("intensity")])]
    for axis in ("y", "x"):
        inputs.append(
            SpaceInputAxis(
                id=AxisId(axis), size=manifest.tile, unit="nanometer", scale=manifest.pixel_size_nm
            )
        )
        outputs.append(
            SpaceOutputAxisWithHalo(
                id=AxisId(axis),
                size=SizeReference(tensor_id=TensorId(INPUT_ID), axis_id=AxisId(axis)),
                unit="nanometer",
                scale=manifest.pixel_size_nm / manifest.scale,
                halo=manifest.halo * manifest.scale,
            )
        )
    return inputs, outputs


def _describe(
    folder: Path, manifest: EngineManifest, staging: Path, architecture: GeneratorConfig
) -> Any:
    from bioimageio.spec.model.v0_5 import (
        ArchitectureFromLibraryDescr,
        Author,
        CiteEntry,
        Doi,
        FileDescr,
        Identifier,
        InputTensorDescr,
        LicenseId,
        ModelDescr,
        OnnxWeightsDescr,
        OutputTensorDescr,
        PytorchStateDictWeightsDescr,
        ScaleRangeDescr,
        ScaleRangeKwargs,
        TensorId,
        Version,
        WeightsDescr,
    )

    inputs, outputs = _axes(manifest)
    spec = manifest.normalization
    preprocessing = ScaleRangeDescr(
        kwargs=ScaleRangeKwargs(
            axes=[Identifier("y"), Identifier("x")],
            min_percentile=spec.low_percentile,
            max_percentile=spec.high_percentile,
            eps=EPSILON,
        )
    )
    # The zoo asks for names of at least 5 characters.
    name = (
        manifest.model_name if len(manifest.model_name) >= 5 else f"tcan-live {manifest.model_name}"
    )
    return ModelDescr(
        name=name,
        description=_description_text(folder, manifest),
        authors=[Author(**author) for author in AUTHORS],
        cite=[CiteEntry(text=c["text"], doi=Doi(c["doi"])) for c in CITATIONS],
        license=LicenseId(LICENSE),
        tags=list(TAGS),
        documentation=FileDescr(source=staging / "README.md"),
        covers=[FileDescr(source=staging / "cover.png")],
        inputs=[
            InputTensorDescr(
                id=TensorId(INPUT_ID),
                description="a confocal frame at the engine's training pixel size",
                axes=inputs,
                test_tensor=FileDescr(source=staging / "test_input.npy"),
                preprocessing=[preprocessing],
            )
        ],
        outputs=[
            OutputTensorDescr(
                id=TensorId(OUTPUT_ID),
                description="the STED-like frame, in the input's normalised intensity range",
                axes=outputs,
                test_tensor=FileDescr(source=staging / "test_output.npy"),
            )
        ],
        weights=WeightsDescr(
            onnx=OnnxWeightsDescr(
                source=staging / "weights.onnx",
                opset_version=manifest.onnx_opset,
                parent="pytorch_state_dict",
            ),
            pytorch_state_dict=PytorchStateDictWeightsDescr(
                source=staging / "weights.pt",
                architecture=ArchitectureFromLibraryDescr(
                    callable=Identifier("generator_from_architecture"),
                    import_from="tcan_live.model",
                    kwargs=architecture.model_dump(mode="json"),
                ),
                pytorch_version=Version(torch.__version__.split("+")[0]),
            ),
        ),
        config={
            CONFIG_KEY: {
                "model_name": manifest.model_name,
                "pixel_size_nm": manifest.pixel_size_nm,
                "scale": manifest.scale,
                "tile": manifest.tile,
                "halo": manifest.halo,
                "normalization": spec.model_dump(mode="json"),
                "architecture": architecture.model_dump(mode="json"),
                "checkpoint_sha256": manifest.checkpoint_sha256,
                "parity_tolerance": manifest.parity.tolerance,
            }
        },
    )


def export_bioimageio(
    engine: str | Path, out: str | Path, *, log: Callable[[str], None] = lambda message: None
) -> ExportResult:
    """Write the engine folder ``engine`` as a BioImage.IO model package ``out`` (a .zip).

    Raises
    ------
    EngineError
        The folder is not a loadable engine, has no TCAN architecture (an imported foreign
        network: share its original package instead), or its checkpoint is missing.
    """
    # The package's description keeps its files open until it is freed: free it inside.
    with closing_leaks():
        return _export(Path(engine), Path(out), log)


def _export(folder: Path, target: Path, log: Callable[[str], None]) -> ExportResult:
    manifest = read_manifest(folder)
    architecture = manifest.architecture
    if architecture is None:
        raise EngineError(
            f"{folder}: imported from a foreign BioImage.IO package (no TCAN architecture); "
            "share that package itself"
        )
    from bioimageio.spec import save_bioimageio_package

    checkpoint = load_checkpoint(_checkpoint(folder, manifest))
    loaded = load_engine(folder, threads=1)
    rng = np.random.default_rng(0)
    image = _TEST_OFFSET + _TEST_SIGNAL * filament_image(manifest.tile, rng)
    test_input = image.astype(np.float32)[None, None]
    try:
        test_output = loaded.backend.run(scale_range(test_input, manifest.normalization))
    finally:
        loaded.close()
    with tempfile.TemporaryDirectory(prefix="tcan-bioimageio-") as staging_name:
        staging = Path(staging_name)
        log(f"weights: {manifest.onnx_file} and the state dict of {checkpoint.meta.model_name}")
        shutil.copyfile(folder / manifest.onnx_file, staging / "weights.onnx")
        torch.save(checkpoint.generator.state_dict(), staging / "weights.pt")
        np.save(staging / "test_input.npy", test_input)
        np.save(staging / "test_output.npy", test_output)
        cover_image(test_input[0, 0], test_output[0, 0], staging / "cover.png")
        (staging / "README.md").write_text(_documentation(folder, manifest), encoding="utf-8")
        try:
            description = _describe(folder, manifest, staging, architecture)
        except ValidationError as error:
            problem = validation_problems(error)[0]
            raise EngineError(f"{folder}: no valid BioImage.IO description ({problem})") from None
        log(f"validating and packaging {target.name} (bioimageio.spec)")
        target.parent.mkdir(parents=True, exist_ok=True)
        save_bioimageio_package(description, output_path=target)
        files = tuple(sorted(p.name for p in staging.iterdir()))
    return ExportResult(target, manifest.model_name, tuple(test_input.shape), files)
