"""``build_engine``: checkpoint -> checked ONNX -> backend engine -> parity -> engine folder.

Everything is produced in a private staging folder first; the engine folder is only written
when the ONNX and the engine both pass the parity check against the torch fp32 model, so a
refused build leaves nothing behind (and an existing engine in ``out`` untouched).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tcan_live.core.version import __version__
from tcan_live.engine.backend_kind import BuildInputs
from tcan_live.engine.export import ONNX_OPSET, export_onnx
from tcan_live.engine.machine import cuda_device
from tcan_live.engine.manifest import (
    MANIFEST_NAME,
    EngineError,
    EngineManifest,
    Precision,
    default_halo,
    sha256_bytes,
    sha256_file,
    write_manifest,
)
from tcan_live.engine.ort_backend import OnnxRuntimeBackend
from tcan_live.engine.parity import (
    DEFAULT_TOLERANCE,
    measure_parity,
    probe_tiles,
    reference_output,
    require_parity,
)
from tcan_live.engine.registry import backend_kind, backend_names, engine_files
from tcan_live.model import TCANGenerator, load_checkpoint

ONNX_FILE = "model.onnx"


@dataclass(frozen=True)
class BuildResult:
    """What ``build_engine`` wrote."""

    folder: Path
    manifest: EngineManifest
    files: dict[str, int]  # file name -> size in bytes


def _check_request(tile: int, halo: int, max_batch: int) -> None:
    if max_batch < 1:
        raise EngineError(f"--max-batch {max_batch}: expected at least 1")
    if halo < 0 or 2 * halo >= tile:
        raise EngineError(f"--halo {halo}: expected 0 <= halo < tile / 2 (tile {tile})")


def build_engine(
    checkpoint: str | Path,
    backend: str,
    out: str | Path,
    *,
    precision: Precision = "fp32",
    tile: int = 256,
    halo: int | None = None,
    max_batch: int = 4,
    tolerance: float | None = None,
    torch_compile: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Build an engine folder from a checkpoint.

    Parameters
    ----------
    checkpoint
        A ``.safetensors`` checkpoint written by :func:`tcan_live.model.save_checkpoint`.
    backend
        A registered backend (:mod:`tcan_live.engine.registry`): ``"onnxruntime"``,
        ``"tensorrt"``, ``"torch"``.
    out
        The engine folder (created; files of an earlier engine there are replaced).
    precision
        ``"fp32"``, ``"fp16"`` or ``"bf16"`` (what the backend offers:
        ``BackendKind.precisions``).
    tile, halo, max_batch
        Tile size the engine is compiled for, overlap the runtime uses (default:
        :func:`tcan_live.runtime.tiling.default_halo`) and the largest batch of tiles.
    tolerance
        Largest relative parity error accepted (default per precision, ``DEFAULT_TOLERANCE``).
    torch_compile
        Torch backend only: compile the module with ``torch.compile`` at load.
    log
        Receives one line per step.

    Raises
    ------
    EngineError
        For an impossible request, a machine that cannot build it, or a parity failure
        (:class:`~tcan_live.engine.parity.ParityError`, with both figures); nothing is written.
    """
    kind = backend_kind(backend, precision)
    halo = default_halo(tile) if halo is None else halo
    _check_request(tile, halo, max_batch)
    if torch_compile and not kind.compiles:
        compiling = [name for name in backend_names() if backend_kind(name).compiles]
        raise EngineError(f"--torch-compile applies to --backend {' or '.join(compiling)} only")
    device = kind.preflight(precision)
    tolerance = DEFAULT_TOLERANCE[precision] if tolerance is None else tolerance
    source = Path(checkpoint)
    loaded = load_checkpoint(source, spectrum="matmul")
    meta, generator = loaded.meta, loaded.generator
    reference = TCANGenerator(meta.architecture, spectrum="fft")
    reference.load_state_dict(generator.state_dict())
    onnx_precision = kind.onnx_precision(precision)
    target = Path(out)

    with tempfile.TemporaryDirectory(prefix="tcan-build-") as staging_name:
        staging = Path(staging_name)
        log(f"exporting ONNX ({onnx_precision}, opset {ONNX_OPSET}, tile {tile}, dynamic batch)")
        export_onnx(generator, staging / ONNX_FILE, tile, onnx_precision)
        log("onnx.checker: passed")
        onnx_model = (staging / ONNX_FILE).read_bytes()
        tiles = probe_tiles(tile)
        expected = reference_output(reference, tiles)
        log("parity of the ONNX on onnxruntime (CPU) against torch fp32")
        checker = OnnxRuntimeBackend(onnx_model, tile, meta.scale, max_batch)
        onnx_tolerance = tolerance if onnx_precision == precision else DEFAULT_TOLERANCE["fp32"]
        try:
            onnx_parity = measure_parity(
                checker, expected, tiles, onnx_tolerance, "cpu (onnxruntime)"
            )
        finally:
            checker.close()
        require_parity(onnx_parity, "ONNX export")

        log(f"building the {backend} engine ({precision})")
        engine = kind.engine_bytes(
            BuildInputs(onnx_model, generator, staging, target, tile, max_batch, precision)
        )
        gpu = cuda_device() if kind.tied_to_gpu else None
        manifest = EngineManifest(
            model_name=meta.model_name,
            preset=meta.architecture.preset,
            architecture=meta.architecture,
            scale=meta.architecture.scale,
            pixel_size_nm=meta.pixel_size_nm,
            normalization=meta.normalization,
            input_fwhm_nm=meta.input_fwhm_nm,
            tile=tile,
            halo=halo,
            min_batch=1,
            max_batch=max_batch,
            precision=precision,
            backend=kind.name,
            backend_version=kind.installed_version() or "unknown",
            onnx_file=ONNX_FILE,
            onnx_sha256=sha256_bytes(onnx_model),
            onnx_opset=ONNX_OPSET,
            onnx_precision=onnx_precision,
            engine_file=kind.engine_file,
            engine_sha256=sha256_bytes(engine),
            checkpoint_name=source.name,
            checkpoint_sha256=sha256_file(source),
            checkpoint_path=str(source.resolve()),
            parity=onnx_parity,  # the engine's own figures replace these below
            onnx_parity=onnx_parity,
            torch_compile=torch_compile,
            created=datetime.now(UTC),
            tcan_live_version=__version__,
            gpu_name=gpu.name if gpu else None,
            compute_capability=gpu.compute_capability if gpu else None,
            tensorrt_version=kind.installed_version() if gpu else None,
        )
        if kind.engine_file != ONNX_FILE:  # the onnxruntime engine is the ONNX just checked
            log(f"parity of the {backend} engine against torch fp32 on {device}")
            opened = kind.open(engine, manifest, None)
            try:
                parity = measure_parity(opened, expected, tiles, tolerance, device)
            finally:
                opened.close()
            require_parity(parity, f"{backend} {precision} engine")
            manifest = manifest.model_copy(update={"parity": parity})

        (staging / kind.engine_file).write_bytes(engine)
        write_manifest(staging, manifest)
        files = _install(staging, target)
    return BuildResult(target, manifest, files)


def _install(staging: Path, target: Path) -> dict[str, int]:
    """Move the staged files into ``target``, dropping engine files of other backends."""
    target.mkdir(parents=True, exist_ok=True)
    staged = sorted(p for p in staging.iterdir() if p.is_file())
    names = {p.name for p in staged}
    for stale in engine_files() - names:
        (target / stale).unlink(missing_ok=True)
    files: dict[str, int] = {}
    # Manifest last: an interrupted install leaves hashes that fail the load check, never a
    # manifest vouching for files that are not there.
    for path in sorted(staged, key=lambda p: p.name == MANIFEST_NAME):
        files[path.name] = path.stat().st_size
        shutil.move(str(path), target / path.name)
    return files
