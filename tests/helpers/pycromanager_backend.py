"""Test harness: pycromanager's Python acquisition engine driven by a Python-device core.

pycromanager's Python backend expects the core that ``start_headless(python_backend=True)``
creates: pymmcore's CMMCore with snake_case method names and mmpycorex's tagged-image helpers.
That needs Micro-Manager's adapter libraries, which no registry ships for Linux. Here a
pymmcore-plus ``UniMMCore`` with Python devices stands in: its camelCase methods are reached
under snake_case names, and mmpycorex's helpers are attached as ``start_headless`` would.
These are pycromanager/mmpycorex internals (private API): test harness only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mmpycorex import launcher
from pycromanager.acquisition.acq_eng_py.internal.engine import Engine
from pymmcore_plus.experimental.unicore import UniMMCore


def _snake(name: str) -> str:
    first = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", first).lower()


class SnakeCaseCore:
    """A UniMMCore seen through the names pycromanager's Python backend calls."""

    TaggedImage = launcher.TaggedImage

    def __init__(self, core: UniMMCore) -> None:
        self._core = core
        self._names = {_snake(n): n for n in dir(type(core)) if not n.startswith("_")}

    def __getattr__(self, name: str) -> Any:
        core = self.__dict__["_core"]
        if hasattr(core, name):
            return getattr(core, name)
        return getattr(core, self._names[name])

    def get_tagged_image(self, *args: Any, **kwargs: Any) -> Any:
        return launcher.get_tagged_image(self, *args, **kwargs)

    def pop_next_tagged_image(self) -> Any:
        raise NotImplementedError("sequence acquisitions are not used by these tests")


@contextmanager
def python_backend(core: UniMMCore) -> Iterator[None]:
    """Make pycromanager's ``Acquisition`` use its Python backend on ``core``."""
    wrapped = SnakeCaseCore(core)
    launcher._PYMMCORES.append(wrapped)
    if hasattr(Engine, "singleton"):
        Engine.singleton.core = wrapped  # the engine is a process-wide singleton
    else:
        Engine(wrapped)
    try:
        yield
    finally:
        launcher._PYMMCORES.remove(wrapped)
