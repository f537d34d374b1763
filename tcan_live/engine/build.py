"""``build_engine``: checkpoint -> checked ONNX -> backend engine -> parity -> engine folder.

Everything is produced in a private staging folder first; the engine folder is only written
when the ONNX and the engine both pass the parity check against the torch fp32 model, so a
refused build leaves nothing behind (and an existing engine in ``out`` untouched).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
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
    ParityFigures,
    Precision,
    TileVariant,
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
from tcan_live.engine.registry import (
    backend_kind,
    backend_names,
    cpu_default_backend,
    engine_files,
)
from tcan_live.engine.tile_timing import seconds_per_pixel
from tcan_live.model import TCANGenerator, load_checkpoint
from tcan_live.model.complexity import flops_per_pixel_at
from tcan_live.runtime.backend import InferenceBackend

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


@dataclass(frozen=True)
class _TileBuild:
    """One tile size's files and parity figures, all checked."""

    tile: int
    onnx_file: str
    onnx_model: bytes
    engine_file: str
    engine: bytes
    onnx_parity: ParityFigures
    parity: ParityFigures
    flops_per_pixel: float


def variant_file(name: str, tile: int) -> str:
    """File name of an extra tile size's copy of ``name``: ``model.onnx`` -> ``model-t576.onnx``."""
    stem, dot, suffix = name.partition(".")
    return f"{stem}-t{tile}{dot}{suffix}"


def _tile_sizes(tile: int | Sequence[int]) -> tuple[int, ...]:
    tiles = (tile,) if isinstance(tile, int) else tuple(tile)
    if not tiles or len(set(tiles)) != len(tiles):
        raise EngineError(f"--tile {list(tiles)}: expected one or more distinct tile sizes")
    return tiles


def build_engine(
    checkpoint: str | Path,
    backend: str | None,
    out: str | Path,
    *,
    precision: Precision | None = None,
    tile: int | Sequence[int] = 256,
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
        A registered backend (:mod:`tcan_live.engine.registry`): ``"openvino"``,
        ``"onnxruntime"``, ``"tensorrt"``, ``"torch"``; None: the CPU default
        (:func:`~tcan_live.engine.registry.cpu_default_backend`).
    out
        The engine folder (created; files of an earlier engine there are replaced).
    precision
        ``"fp32"``, ``"fp16"`` or ``"bf16"`` (what the backend offers:
        ``BackendKind.precisions``); None: the backend's default on this machine
        (``BackendKind.default_precision``: OpenVINO builds bf16 on CPUs with native
        bfloat16, every other backend fp32).
    tile, halo, max_batch
        Tile size(s) the engine is compiled for (several: the first is the manifest's
        ``tile``, the others its ``extra_tiles``, and the runtime picks per frame size), the
        overlap the runtime uses (default: :func:`~tcan_live.engine.manifest.default_halo` of
        the smallest tile) and the largest batch of tiles.
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
    if backend is None:
        backend = cpu_default_backend()
        log(f"backend: {backend} (the CPU default)")
    kind = backend_kind(backend, precision)
    if precision is None:
        precision, why = kind.default_precision()
        log(f"precision: {precision} ({why})")
    tiles = _tile_sizes(tile)
    halo = default_halo(min(tiles)) if halo is None else halo
    for size in tiles:
        _check_request(size, halo, max_batch)
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
    onnx_tolerance = tolerance if onnx_precision == precision else DEFAULT_TOLERANCE["fp32"]
    target = Path(out)

    with tempfile.TemporaryDirectory(prefix="tcan-build-") as staging_name:
        staging = Path(staging_name)

        def build_tile(size: int, main: bytes | None) -> _TileBuild:
            onnx_file = ONNX_FILE if main is None else variant_file(ONNX_FILE, size)
            log(
                f"exporting ONNX ({onnx_precision}, opset {ONNX_OPSET}, tile {size}, dynamic batch)"
            )
            export_onnx(generator, staging / onnx_file, size, onnx_precision)
            log("onnx.checker: passed")
            onnx_model = (staging / onnx_file).read_bytes()
            probe = probe_tiles(size)
            expected = reference_output(reference, probe)
            log(f"parity of the tile {size} ONNX on onnxruntime (CPU) against torch fp32")
            checker = OnnxRuntimeBackend(onnx_model, size, meta.scale, max_batch)
            try:
                onnx_parity = measure_parity(
                    checker, expected, probe, onnx_tolerance, "cpu (onnxruntime)"
                )
            finally:
                checker.close()
            require_parity(onnx_parity, f"ONNX export (tile {size})")
            log(f"building the {backend} engine ({precision}, tile {size})")
            engine = kind.engine_bytes(
                BuildInputs(onnx_model, generator, staging, target, size, max_batch, precision)
            )
            if engine == onnx_model:
                engine_file = onnx_file
            elif main is None or engine == main:  # torch weights: one file for every tile
                engine_file = kind.engine_file
            else:
                engine_file = variant_file(kind.engine_file, size)
            parity = onnx_parity
            if not kind.onnx_parity_is_engine:
                log(f"parity of the {backend} engine (tile {size}) against torch fp32 on {device}")
                opened = kind.open(engine, manifest_for(size, engine), None)
                try:
                    parity = measure_parity(opened, expected, probe, tolerance, device)
                finally:
                    opened.close()
                require_parity(parity, f"{backend} {precision} engine (tile {size})")
            flops = flops_per_pixel_at(meta.architecture, size)
            return _TileBuild(
                size, onnx_file, onnx_model, engine_file, engine, onnx_parity, parity, flops
            )

        def time_tiles(builds: list[_TileBuild]) -> dict[int, float]:
            """Each size's measured seconds per pixel: what the runtime's tile choice uses."""
            sizes = ", ".join(str(b.tile) for b in builds)
            log(f"timing tiles {sizes} on {device} (batch {max_batch}, alternating)")
            opened: dict[int, InferenceBackend] = {}
            try:
                for b in builds:
                    opened[b.tile] = kind.open(b.engine, manifest_for(b.tile, b.engine), None)
                return seconds_per_pixel(opened, max_batch)
            finally:
                for backend in opened.values():
                    backend.close()

        def manifest_for(size: int, engine: bytes) -> EngineManifest:
            """Return a provisional single-tile manifest: enough to open the engine."""
            placeholder = ParityFigures(
                max_abs_error=0, max_rel_error=0, tolerance=tolerance, probe="", device=device
            )
            return _manifest(size, engine, engine, placeholder, placeholder, (), None)

        def _manifest(
            size: int,
            onnx_model: bytes,
            engine: bytes,
            onnx_parity: ParityFigures,
            parity: ParityFigures,
            extra: tuple[TileVariant, ...],
            flops: float | None,
            engine_file: str = kind.engine_file,
            seconds: float | None = None,
        ) -> EngineManifest:
            gpu = cuda_device() if kind.tied_to_gpu else None
            return EngineManifest(
                model_name=meta.model_name,
                preset=meta.architecture.preset,
                architecture=meta.architecture,
                scale=meta.architecture.scale,
                pixel_size_nm=meta.pixel_size_nm,
                normalization=meta.normalization,
                input_fwhm_nm=meta.input_fwhm_nm,
                tile=size,
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
                engine_file=engine_file,
                engine_sha256=sha256_bytes(engine),
                checkpoint_name=source.name,
                checkpoint_sha256=sha256_file(source),
                checkpoint_path=str(source.resolve()),
                parity=parity,
                onnx_parity=onnx_parity,
                torch_compile=torch_compile,
                created=datetime.now(UTC),
                tcan_live_version=__version__,
                gpu_name=gpu.name if gpu else None,
                compute_capability=gpu.compute_capability if gpu else None,
                tensorrt_version=kind.installed_version() if gpu else None,
                flops_per_pixel=flops,
                seconds_per_pixel=seconds,
                extra_tiles=extra,
            )

        first = build_tile(tiles[0], None)
        others = [build_tile(size, first.engine) for size in tiles[1:]]
        seconds = time_tiles([first, *others]) if others else {}
        extra = tuple(
            TileVariant(
                tile=b.tile,
                onnx_file=b.onnx_file,
                onnx_sha256=sha256_bytes(b.onnx_model),
                engine_file=b.engine_file,
                engine_sha256=sha256_bytes(b.engine),
                parity=b.parity,
                onnx_parity=b.onnx_parity,
                flops_per_pixel=b.flops_per_pixel,
                seconds_per_pixel=seconds.get(b.tile),
            )
            for b in others
        )
        manifest = _manifest(
            first.tile,
            first.onnx_model,
            first.engine,
            first.onnx_parity,
            first.parity,
            extra,
            first.flops_per_pixel,
            first.engine_file,
            seconds.get(first.tile),
        )
        for built in (first, *others):
            (staging / built.engine_file).write_bytes(built.engine)
        write_manifest(staging, manifest)
        files = _install(staging, target)
    return BuildResult(target, manifest, files)


def _is_variant(name: str) -> bool:
    """Whether ``name`` is an extra tile size's file (``model-t576.onnx``) of some backend."""
    stem, _, _ = name.partition(".")
    base, _, tile = stem.rpartition("-t")
    return tile.isdigit() and any(f.startswith(f"{base}.") for f in {ONNX_FILE, *engine_files()})


def _install(staging: Path, target: Path) -> dict[str, int]:
    """Move the staged files into ``target``, dropping engine files of other backends."""
    target.mkdir(parents=True, exist_ok=True)
    staged = sorted(p for p in staging.iterdir() if p.is_file())
    names = {p.name for p in staged}
    stale = {p.name for p in target.iterdir() if _is_variant(p.name)} | engine_files()
    for name in stale - names:
        (target / name).unlink(missing_ok=True)
    files: dict[str, int] = {}
    # Manifest last: an interrupted install leaves hashes that fail the load check, never a
    # manifest vouching for files that are not there.
    for path in sorted(staged, key=lambda p: p.name == MANIFEST_NAME):
        files[path.name] = path.stat().st_size
        shutil.move(str(path), target / path.name)
    return files
