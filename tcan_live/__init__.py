"""tcan-live: live STED-like super-resolution for confocal microscopes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tcan_live.core.version import __version__

if TYPE_CHECKING:
    from tcan_live.engine.load import load_engine


def __getattr__(name: str) -> Any:
    # Lazy, so `import tcan_live` (and `tcan-live --version`) does not import torch.
    if name == "load_engine":
        from tcan_live.engine.load import load_engine

        return load_engine
    raise AttributeError(f"module 'tcan_live' has no attribute {name!r}")


__all__ = ["__version__", "load_engine"]
