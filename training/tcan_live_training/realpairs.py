"""Held-out real confocal/STED pairs: written as an evaluation set, checked against the issue.

A real-pair training configuration names its held-out fields (``data.heldout``), which the
trainer never reads. Here they are prepared exactly as the trainer prepares its pairs (the
registration check, the runtime's resampling to the engine's pixel size) and written as a
``tcan-live evaluate`` folder: ``lr/`` (confocal) and ``gt/`` + ``hr/`` (the STED image as
reference; there is no noise-free ground truth for real data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tcan_live.core.tiff_files import write_tiff
from tcan_live_training.config import TrainConfig
from tcan_live_training.data.pairs import find_pairs, read_pair
from tcan_live_training.data.sources import prepare_real_pair

# Issue 12's targets for a fine-tuned real-pair engine, against the STED image.
PSNR_MARGIN_DB = 1.5
SSIM_MARGIN = 0.05
DECORRELATION_FACTOR = 1.2
MIN_RSP = 0.97


def write_heldout_pairs(config: TrainConfig, folder: Path) -> Path:
    """Write ``config``'s held-out fields as an evaluation folder; return it.

    Raises
    ------
    ValueError
        If the configuration is not a real-pair one or holds no field out.
    """
    data = config.data
    if data.kind != "pairs" or data.path is None or not data.heldout:
        raise ValueError("real-pair evaluation needs a kind = 'pairs' config with data.heldout")
    pattern = {"layout": data.layout, "lr_pattern": data.lr_pattern, "hr_pattern": data.hr_pattern}
    pairs = [p for p in find_pairs(data.path, **pattern) if p.group in data.heldout]  # type: ignore[arg-type]
    pixel = data.input_pixel_size_nm()
    entries = []
    for pair in pairs:
        lr, hr, shift = prepare_real_pair(
            pair,
            *read_pair(pair, config.model.scale, data.pixel_size_nm),
            data.registration,
            data.pixel_size_nm,
            data.resample_to_nm,
        )
        name = f"{pair.group}.tif"
        write_tiff(folder / "lr" / name, lr, pixel)
        for partner in ("hr", "gt"):
            write_tiff(folder / partner / name, hr, pixel / config.model.scale)
        entries.append({"file": name, "field": pair.group, "shift_px": list(shift)})
    (folder / "pairs.json").write_text(
        json.dumps({"source": str(data.path), "pixel_size_nm": pixel, "fields": entries}, indent=2)
    )
    return folder


def real_pair_acceptance(metrics: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """Check issue 12's real-pair targets; (target, passed or None if n/a, figures)."""
    out, lucy, sted = metrics["output"], metrics.get("lucy-richardson", {}), metrics.get("hr", {})
    checks: list[tuple[str, bool | None, str]] = []
    psnr_gain = out["psnr"] - lucy.get("psnr", float("nan"))
    ssim_gain = out["ssim"] - lucy.get("ssim", float("nan"))
    checks.append(
        (
            f"PSNR >= best Lucy-Richardson + {PSNR_MARGIN_DB} dB against STED",
            psnr_gain >= PSNR_MARGIN_DB,
            f"{out['psnr']:.2f} vs {lucy.get('psnr', float('nan')):.2f} dB ({psnr_gain:+.2f})",
        )
    )
    checks.append(
        (
            f"SSIM >= best Lucy-Richardson + {SSIM_MARGIN} against STED",
            ssim_gain >= SSIM_MARGIN,
            f"{out['ssim']:.3f} vs {lucy.get('ssim', float('nan')):.3f} ({ssim_gain:+.3f})",
        )
    )
    ours, theirs = out.get("decorr_nm"), sted.get("decorr_nm")
    if ours and theirs:
        checks.append(
            (
                f"decorrelation resolution within {DECORRELATION_FACTOR}x of the STED image's",
                ours <= DECORRELATION_FACTOR * theirs,
                f"{ours:.0f} vs STED {theirs:.0f} nm ({ours / theirs:.2f}x)",
            )
        )
    else:
        checks.append(("decorrelation resolution", None, f"output {ours}, STED {theirs}"))
    rsp = out.get("rsp")
    checks.append(
        (
            f"RSP against the input >= {MIN_RSP}",
            None if rsp is None else rsp >= MIN_RSP,
            f"RSP {rsp}",
        )
    )
    return checks
