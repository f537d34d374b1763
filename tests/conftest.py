"""Shared fixtures: deterministic seeds and the optional ../shared material."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("TCAN_SHARED_DIR", REPO_ROOT.parent / "shared"))


# On 2 shared cores torch's OpenMP threads busy-wait for each other (measured: up to 10x slower
# than one thread); tests use one.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def shared_data() -> Path:
    """The real confocal images beside the checkout; skips when they are not there."""
    folder = SHARED_DIR / "data" / "real-confocal"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (only present in the project workspace)")
    return folder


@pytest.fixture(scope="session")
def napari_display() -> Iterator[str]:
    """A virtual X display (Xvfb) for napari, kept for the whole session.

    Qt's application lives until the process ends, so its display must outlive every test.
    """
    from tests.helpers.napari_display import display_environment

    with display_environment() as display:
        yield display


@pytest.fixture
def viewer(napari_display: str) -> Iterator[Any]:
    """A real napari viewer, shown on the virtual display, closed after the test."""
    import napari

    shown = napari.Viewer(show=True)
    shown.window.resize(1400, 800)
    try:
        yield shown
    finally:
        shown.close()
