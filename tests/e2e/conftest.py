"""Tiny real engines for the daemon tests, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.daemon import DEMO_ENGINES, build_tiny_engine


@pytest.fixture(scope="session")
def tiny_engines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding microtubules-small and actin-small (tiny models, tile 32)."""
    folder = tmp_path_factory.mktemp("engines")
    for seed, name in enumerate(DEMO_ENGINES):
        build_tiny_engine(folder / name, seed=seed + 1)
    return folder
