"""Every engine backend by name: the built-in entries and :func:`register_backend`."""

from __future__ import annotations

from tcan_live.core.registry import Registry
from tcan_live.engine import openvino_backend, ort_backend, tensorrt_backend, torch_backend
from tcan_live.engine.backend_kind import BackendKind
from tcan_live.engine.manifest import EngineError

BUILTIN_BACKENDS: tuple[BackendKind, ...] = (
    ort_backend.KIND,
    openvino_backend.KIND,
    tensorrt_backend.KIND,
    torch_backend.KIND,
)
BACKENDS: Registry[BackendKind] = Registry("backend", BUILTIN_BACKENDS)

# CPU backends in order of preference for ``build-engine`` without ``--backend``: the fastest
# that matched torch fp32 in ``tcan-live bench engine`` (docs/engines.md, "Measured") first.
CPU_PREFERENCE: tuple[str, ...] = ("openvino", "onnxruntime")


def register_backend(kind: BackendKind) -> None:
    """Make ``kind`` available to ``build-engine``, manifests and loading; once per name."""
    BACKENDS.register(kind)


def backend_names() -> tuple[str, ...]:
    """Return the names of every registered backend, built-in first."""
    return BACKENDS.names()


def engine_files() -> set[str]:
    """Return the engine file names of every backend (an engine folder holds one)."""
    return {kind.engine_file for kind in BACKENDS}


def cpu_default_backend() -> str:
    """Return the first backend of :data:`CPU_PREFERENCE` whose library is usable here."""
    for name in CPU_PREFERENCE:
        if name in BACKENDS and BACKENDS.get(name).installed_version() is not None:
            return name
    return CPU_PREFERENCE[-1]  # its own check then says what is missing


def backend_kind(backend: str, precision: str | None = None) -> BackendKind:
    """Return the backend named ``backend``, after checking it offers ``precision``."""
    try:
        kind = BACKENDS.get(backend)
    except KeyError as error:
        raise EngineError(error.args[0]) from None
    if precision is not None and precision not in kind.precisions:
        raise EngineError(
            f"--precision {precision} is not available with --backend {backend}: {kind.why_not}"
        )
    return kind
