"""Opening an engine folder: manifest, machine and file checks first, then the backend.

Every check failure is one line naming the folder, what differs, and the exact
``tcan-live build-engine`` command that rebuilds the engine for this machine. The files a
backend loads are read once, hashed, and the very bytes that were hashed are handed to the
backend, so a file swapped after the check is never loaded (security requirement, issue 7).
"""

from __future__ import annotations

from pathlib import Path

from tcan_live.engine.backend import InferenceBackend
from tcan_live.engine.backends import backend_kind
from tcan_live.engine.machine import (
    CudaDevice,
    cuda_device,
    import_tensorrt,
    installed_version,
    release,
)
from tcan_live.engine.manifest import EngineError, EngineManifest, read_manifest, sha256_bytes


def version_mismatch(manifest: EngineManifest, installed: str | None) -> str | None:
    """Why the installed backend version cannot run this engine, or None when it can.

    TensorRT plans run only on the TensorRT version that built them. onnxruntime and torch
    read the engine formats of older releases, so only an older major.minor is refused.
    """
    wanted = f"{manifest.backend} {manifest.backend_version}"
    if installed is None:
        return f"the engine needs {wanted}, which is not installed"
    if manifest.backend == "tensorrt":
        if installed != manifest.backend_version:
            return f"the plan was built with {wanted}; this machine has TensorRT {installed}"
        return None
    if release(installed)[:2] < release(manifest.backend_version)[:2]:
        return f"the engine was built and verified with {wanted}; this machine has {installed}"
    return None


def device_mismatch(manifest: EngineManifest, device: CudaDevice | None) -> str | None:
    """Why this machine's GPU cannot run the engine, or None when it can."""
    needs_gpu = manifest.backend == "tensorrt" or (
        manifest.backend == "torch" and manifest.precision != "fp32"
    )
    if not needs_gpu:
        return None
    if device is None:
        return f"the {manifest.backend} {manifest.precision} engine needs a CUDA GPU; none found"
    if manifest.backend != "tensorrt":
        return None
    built_for = (manifest.gpu_name, manifest.compute_capability)
    if (device.name, device.compute_capability) != built_for:
        return (
            f"the plan was built for GPU {manifest.gpu_name} (compute capability "
            f"{manifest.compute_capability}); this machine has {device.name} "
            f"(compute capability {device.compute_capability})"
        )
    return None


def machine_mismatch(manifest: EngineManifest) -> str | None:
    """Check the installed backend and the GPU of this machine against ``manifest``."""
    if manifest.backend == "tensorrt":
        try:
            import_tensorrt()
        except ImportError as error:
            return str(error)
    problem = version_mismatch(manifest, installed_version(manifest.backend))
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


def load_backend(
    path: str | Path, backend: str | None = None
) -> tuple[InferenceBackend, EngineManifest]:
    """Check an engine folder against its files and this machine, then open it.

    Parameters
    ----------
    path
        Folder written by ``tcan-live build-engine``.
    backend
        The backend the caller expects; None accepts whatever the manifest names.

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
        problem = machine_mismatch(manifest)
        if problem:
            raise EngineError(problem)
        onnx = verified_bytes(folder, manifest.onnx_file, manifest.onnx_sha256)
        engine = (
            onnx
            if manifest.engine_file == manifest.onnx_file
            else verified_bytes(folder, manifest.engine_file, manifest.engine_sha256)
        )
        return kind.open(engine, manifest), manifest
    except EngineError as error:
        raise EngineError(
            f"{folder}: {error}; rebuild with: {manifest.rebuild_command(folder)}"
        ) from None
