"""Engines: a trained model compiled for this machine, with the manifest that says what it is.

``load_engine(folder)`` verifies an engine folder and returns an :class:`Engine`; imports are
lazy so that reading a manifest does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tcan_live.engine.load import load_engine, open_engine
    from tcan_live.engine.loaded_engine import Engine


def __getattr__(name: str) -> Any:
    if name in ("load_engine", "open_engine"):
        from tcan_live.engine import load

        return getattr(load, name)
    if name == "Engine":
        from tcan_live.engine.loaded_engine import Engine

        return Engine
    raise AttributeError(f"module 'tcan_live.engine' has no attribute {name!r}")


__all__ = ["Engine", "load_engine", "open_engine"]
