"""``metrics.json`` (one entry per source) and ``report.md`` (the papers' tables)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Summary = dict[str, dict[str, Any]]


def _cell(value: float | int | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(summary: Summary, columns: list[tuple[str, str, int]]) -> list[str]:
    present = [c for c in columns if any(c[0] in entry for entry in summary.values())]
    if not present:
        return []
    lines = [
        "| source | " + " | ".join(title for _, title, _ in present) + " |",
        "| --- | " + " | ".join("---:" for _ in present) + " |",
    ]
    for name, entry in summary.items():
        cells = [
            _cell(entry.get(key), digits) if key in entry else "" for key, _, digits in present
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def write_metrics_json(summary: Summary, out: Path) -> Path:
    """Write ``metrics.json``: top-level keys are the sources, values their metrics."""
    target = out / "metrics.json"
    target.write_text(json.dumps(summary, indent=2))
    return target


def write_report(summary: Summary, details: dict[str, Any], figures: list[Path], out: Path) -> Path:
    """Write ``report.md`` with the tables of Huang et al. 2023 / Wang et al. 2019."""
    lines = [
        "# tcan-live evaluation",
        "",
        f"Data: `{details['data']}` ({details['images']} images, "
        f"{'paired' if details['paired'] else 'unpaired'}, scale {details['scale']}, "
        f"input pixel {details['input_pixel_nm']:g} nm). Method under test: "
        f"{details['method']}.",
        "",
    ]
    if "fwhm_nm_mean" in next(iter(summary.values())):
        lines += ["## Bead FWHM (2D Gaussian fits, mean +- sd over all beads)", ""]
        rows = [
            "| source | FWHM (nm) | beads |",
            "| --- | ---: | ---: |",
        ]
        for name, entry in summary.items():
            rows.append(
                f"| {name} | {_cell(entry.get('fwhm_nm_mean'))} +- "
                f"{_cell(entry.get('fwhm_nm_sd'))} | {entry.get('fwhm_count', 0)} |"
            )
        lines += [*rows, ""]
    lines += ["## SNR and resolution (mean over images)", ""]
    lines += _table(summary, [("snr", "SNR", 2), ("decorr_nm", "decorrelation (nm)", 1)])
    lines += ["## Against the noise-free HR reference (mean over images)", ""]
    full = _table(summary, [("mse", "MSE", 5), ("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 3)])
    lines += full or ["No HR reference in this data set: full-reference scores do not apply.", ""]
    lines += ["## Error map against the input (SQUIRREL-style, mean over images)", ""]
    lines += _table(summary, [("rse", "RSE (photons)", 3), ("rsp", "RSP", 4)])
    lines += ["## Live confidence check (as the daemon runs it; docs/confidence.md)", ""]
    lines += _table(
        summary,
        [
            ("residual_to_noise", "residual / noise", 2),
            ("flagged", "fraction of fields flagged", 2),
        ],
    )
    lines += ["## How these numbers are made", "", *details["notes"], ""]
    lines += ["## Figures", ""] + [f"![{path.stem}]({path.name})" for path in figures] + [""]
    target = out / "report.md"
    target.write_text("\n".join(lines))
    return target
