"""Write simulated pairs to disk: ``lr/``, ``hr/``, ``gt/`` TIFF folders plus ``meta.json``.

Image ``i`` of a data set is drawn from ``numpy.random.default_rng([seed, i])``, so an image
does not depend on how many others were written and any one can be regenerated alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tcan_live.core.tiff_files import write_tiff
from tcan_live.core.version import __version__
from tcan_live.simulate.config import STRUCTURES, SimulationConfig
from tcan_live.simulate.pair import simulate_pair

FOLDERS = ("lr", "hr", "gt")
META_FILE = "meta.json"


def write_dataset(
    out: str | Path,
    structure: str,
    count: int,
    size: int,
    seed: int,
    config: SimulationConfig | None = None,
) -> dict[str, Any]:
    """Simulate ``count`` pairs of ``structure`` and write them under ``out``.

    Returns
    -------
    dict
        The JSON description written to ``out/meta.json``: configuration, pixel sizes, seed
        and, per image, its file name and (for beads) bead centres in HR pixel coordinates.
    """
    if structure not in STRUCTURES:
        raise ValueError(f"unknown structure {structure!r}; expected one of {list(STRUCTURES)}")
    if count < 1 or size < 16:
        raise ValueError(f"count must be >= 1 and size >= 16 pixels, got {count} and {size}")
    config = config or SimulationConfig()
    root = Path(out)
    images: list[dict[str, Any]] = []
    for index in range(count):
        pair = simulate_pair(structure, size, np.random.default_rng([seed, index]), config)
        name = f"{structure}_{index:04d}.tif"
        write_tiff(root / "lr" / name, pair.lr, config.lr_pixel_size_nm)
        write_tiff(root / "hr" / name, pair.hr, config.pixel_size_nm)
        write_tiff(root / "gt" / name, pair.gt, config.pixel_size_nm)
        entry: dict[str, Any] = {"file": name}
        if pair.bead_positions is not None:
            entry["bead_positions_px"] = np.round(pair.bead_positions, 3).tolist()
        images.append(entry)
    meta: dict[str, Any] = {
        "generator": f"tcan-live {__version__} simulate",
        "structure": structure,
        "count": count,
        "size": size,
        "seed": seed,
        "scale": config.scale,
        "pixel_size_nm": {"lr": config.lr_pixel_size_nm, "hr": config.pixel_size_nm},
        "folders": {
            "lr": f"{config.lr_modality}, noisy",
            "hr": f"{config.hr_modality}, noisy",
            "gt": f"{config.hr_modality}, noise-free (expected value of hr)",
        },
        "intensity_unit": "photons (expected counts; noise: Poisson plus Gaussian read noise)",
        "config": config.model_dump(mode="json"),
        "images": images,
    }
    (root / META_FILE).write_text(json.dumps(meta, indent=2))
    return meta
