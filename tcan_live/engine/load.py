"""Opening an engine folder: manifest, machine and file checks first, then the backend.

Every check failure is one line naming the folder, what differs, and the exact
``tcan-live build-engine`` command that rebuilds the engine for this machine. The files a
backend loads are read once, hashed, and the very bytes that were hashed are handed to the
backend, so a file swapped after the check is never loaded.
"""

from __future__ import annotations

from pathlib import Path

from tcan_live.engine.backend_kind import BackendKind
from tcan_live.engine.loaded_engine import Engine
from tcan_live.engine.machine import CudaDevice, cuda_device, release
from tcan_live.engine.manifest import EngineError, EngineManifest, read_manifest, sha256_bytes
from tcan_live.engine.registry import backend_kind
from tcan_live.engine.tile_sizes import TileSizesBackend
from tcan_live.runtime.backend import InferenceBackend


def version_mismatch(manifest: EngineManifest, installed: str | None) -> str | None:
    """Why the installed backend version cannot run this engine, or None when it can.

    A GPU-tied plan (TensorRT) runs only on the library version that built it. The other
    backends read the engine formats of older releases, so only an older major.minor is refused.
    """
    wanted = f"{manifest.backend} {manifest.backend_version}"
    if installed is None:
        return f"the engine needs {wanted}, which is not installed"
    if backend_kind(manifest.backend).tied_to_gpu:
        if installed != manifest.backend_version:
            return f"the plan was built with {wanted}; this machine has TensorRT {installed}"
        return None
    if release(installed)[:2] < release(manifest.backend_version)[:2]:
        return f"the engine was built and verified with {wanted}; this machine has {installed}"
    return None


def device_mismatch(manifest: EngineManifest, device: CudaDevice | None) -> str | None:
    """Why this machine's GPU cannot run the engine, or None when it can."""
    kind = backend_kind(manifest.backend)
    if not kind.needs_gpu(manifest.precision):
        return None
    if device is None:
        return f"the {manifest.backend} {manifest.precision} engine needs a CUDA GPU; none found"
    if not kind.tied_to_gpu:
        return None
    built_for = (manifest.gpu_name, manifest.compute_capability)
    if (device.name, device.compute_capability) != built_for:
        return (
            f"the plan was built for GPU {manifest.gpu_name} (compute capability "
            f"{manifest.compute_capability}); this machine has {device.name} "
            f"(compute capability {device.compute_capability})"
        )
    return None


def machine_mismatch(manifest: EngineManifest, kind: BackendKind) -> str | None:
    """Check the installed backend and the GPU of this machine against ``manifest``."""
    problem = kind.unavailable()
    if problem is not None:
        return problem
    problem = version_mismatch(manifest, kind.installed_version())
    return problem or device_mismatch(manifest, cuda_device())


def verified_bytes(folder: Path, name: str, sha256: str) -> bytes:
    """Read ``folder/name`` and check its SHA-256; raise :class:`EngineError` otherwise."""
    path = folder / name
    if not path.is_file():
        raise EngineError(f"file {name} listed in the manifest is missing")
    data = path.read_bytes()
    digest = sha256_bytes(data)
    if digest != sha256:
        raise EngineError(
            f"file {name} does not match the manifest (sha256 {digest[:12]}..., expected "
            f"{sha256[:12]}...): modified or corrupted"
        )
    return data


def verified_engine(folder: Path, manifest: EngineManifest) -> bytes:
    """Check a single-tile manifest's ONNX and engine file; return the engine's bytes."""
    onnx = verified_bytes(folder, manifest.onnx_file, manifest.onnx_sha256)
    if manifest.engine_file == manifest.onnx_file:
        return onnx
    return verified_bytes(folder, manifest.engine_file, manifest.engine_sha256)


def load_backend(
    path: str | Path, backend: str | None = None, *, threads: int | None = None
) -> tuple[InferenceBackend, EngineManifest]:
    """Check an engine folder against its files and this machine, then open its backend.

    Parameters
    ----------
    path
        Folder written by ``tcan-live build-engine``.
    backend
        The backend the caller expects; None accepts whatever the manifest names.
    threads
        CPU threads the backend may use (None: the machine's physical cores), e.g. a share of
        the cores when several processes run engines side by side (``tcan-live batch``).

    Returns
    -------
    tuple[InferenceBackend, EngineManifest]
        The opened backend and the verified manifest.

    Raises
    ------
    EngineError
        One line: what differs (missing or modified file, backend, version, GPU) and the
        rebuild command.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    try:
        if backend is not None and backend != manifest.backend:
            raise EngineError(f"built for backend {manifest.backend}, not {backend}")
        kind = backend_kind(manifest.backend, manifest.precision)
        problem = machine_mismatch(manifest, kind)
        if problem:
            raise EngineError(problem)
        opened: dict[int, InferenceBackend] = {}
        try:
            for tile in manifest.tile_sizes:
                single = manifest.for_tile(tile)
                opened[tile] = kind.open(verified_engine(folder, single), single, threads)
        except BaseException:
            for backend_opened in opened.values():
                backend_opened.close()
            raise
        if len(opened) == 1:
            return opened[manifest.tile], manifest
        return TileSizesBackend(opened), manifest
    except EngineError as error:
        raise EngineError(
            f"{folder}: {error}; rebuild with: {manifest.rebuild_command(folder)}"
        ) from None


def load_engine(path: str | Path, *, threads: int | None = None) -> Engine:
    """Load a built engine folder (``manifest.json`` + model files), verifying it first.

    ``threads`` limits the CPU threads its backend uses (None: the physical cores).

    Raises
    ------
    EngineError
        One line saying what differs between the manifest and the files or this machine,
        and the command that rebuilds the engine.
    """
    backend, manifest = load_backend(path, threads=threads)
    return Engine(backend, manifest.model_dump(mode="json"))


def open_engine(
    *, engine_dir: str | Path | None = None, checkpoint: str | Path | None = None
) -> Engine:
    """Open a built engine folder or, for a checkpoint, a torch eager engine (exactly one)."""
    if checkpoint is not None and engine_dir is None:
        return Engine.from_checkpoint(checkpoint)
    if engine_dir is not None and checkpoint is None:
        return load_engine(engine_dir)
    raise ValueError("give exactly one of an engine folder (--engine) or --checkpoint")
