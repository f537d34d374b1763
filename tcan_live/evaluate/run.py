"""The ``tcan-live evaluate`` pipeline: load data, choose baselines, enhance, measure, report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tcan_live.evaluate import figures
from tcan_live.evaluate.baselines import DEFAULT_ITERATIONS, choose_iterations
from tcan_live.evaluate.dataset import EvalSet, load_eval_set
from tcan_live.evaluate.enhancers import (
    Enhance,
    bicubic_enhancer,
    lucy_richardson_enhancer,
)
from tcan_live.evaluate.measure import INPUT, SourceResult, enhance_all, measure_field
from tcan_live.evaluate.report import write_metrics_json, write_report
from tcan_live.metrics import error_map

BASELINES = ("lucy-richardson", "bicubic")
OUTPUT = "output"
NOTES = [
    "- Bead FWHM: peaks by `peak_local_max` on a Gaussian-smoothed (1 px) copy, 11 x 11 px "
    "windows, 2D Gaussian + offset by bounded `curve_fit` (trf); FWHM = 2.3548 sqrt(sx sy).",
    "- SNR = |(s - mean_bg) / std_bg|: signal = Otsu foreground of the smoothed noise-free HR "
    "image (of the input for unpaired data), background = pixels > 3 px from it; the same "
    "regions for every source.",
    "- MSE/PSNR/SSIM: reference = noise-free HR (`gt/`), mapped by its 0.1/99.9 percentiles "
    "to [0, 1]; every source is mapped by its least-squares affine fit to that reference; "
    "data range 1. Coarser images are pixel-replicated first.",
    "- Decorrelation resolution: `cubic.metrics.spectral.dcr_resolution` per image; no peak "
    "is reported as n/a.",
    "- RSE/RSP: source binned to the input grid, blurred by a fitted Gaussian and mapped by a "
    "fitted gain/offset onto the input; RSE = rms difference (photons), RSP = Pearson r.",
]


@dataclass(frozen=True)
class Method:
    """The method under test: a name (for the report) and its enhance function."""

    description: str
    enhance: Enhance | None
    baseline: str | None = None


def _psf_config(eval_set: EvalSet) -> Any:
    from tcan_live.simulate import SimulationConfig

    if "config" in eval_set.meta:
        return SimulationConfig.model_validate(eval_set.meta["config"])
    pixel = eval_set.images[0].lr_pixel_nm
    # Real data without a description: default confocal optics at the files' pixel size.
    steps = max(1, round(pixel / 10.0))
    return SimulationConfig(pixel_size_nm=pixel, fine_grid_nm=pixel / steps)


def _lucy_richardson(
    eval_set: EvalSet, scale: int, iterations: int | None, notes: list[str]
) -> tuple[Enhance, dict[str, Any]]:
    from tcan_live.simulate import simulate_pair
    from tcan_live.simulate.optics import sampled_psf

    config = _psf_config(eval_set)
    psf = sampled_psf(config)
    info: dict[str, Any] = {"psf_side_px": int(psf.shape[0])}
    if iterations is not None:
        info.update(iterations=iterations, chosen_by="--lr-iterations")
    elif "config" in eval_set.meta and scale == 1:
        meta = eval_set.meta
        # A separate validation pair (seed stream the data set never uses) avoids tuning on
        # the evaluated images themselves.
        rng = np.random.default_rng([int(meta.get("seed", 0)), 2**31 - 1])
        pair = simulate_pair(str(meta["structure"]), int(meta["size"]), rng, config)
        choice = choose_iterations(pair.lr, pair.gt, psf)
        iterations = choice.iterations
        info.update(
            iterations=iterations,
            chosen_by="best PSNR on a simulated validation pair",
            psnr_by_iterations={k: _finite(v) for k, v in choice.psnr_by_iterations.items()},
        )
    elif eval_set.images[0].gt is not None and scale == 1:
        first = eval_set.images[0]
        assert first.gt is not None
        choice = choose_iterations(first.lr, first.gt, psf)
        iterations = choice.iterations
        info.update(
            iterations=iterations,
            chosen_by=f"best PSNR on {first.name}",
            psnr_by_iterations={k: _finite(v) for k, v in choice.psnr_by_iterations.items()},
        )
    else:
        iterations = DEFAULT_ITERATIONS
        info.update(iterations=iterations, chosen_by="default (no ground truth to choose by)")
    notes.append(
        f"- Lucy-Richardson: {iterations} iterations ({info['chosen_by']}), PSF of "
        f"{config.lr_modality} NA {config.lr_na} at {config.lr_pixel_size_nm:g} nm pixels, "
        "skimage `richardson_lucy(clip=False)`."
    )
    return lucy_richardson_enhancer(psf, iterations, scale), info


def evaluate(
    data: Path,
    out: Path,
    method: Method,
    *,
    method_scale: int | None = None,
    beads: bool | None = None,
    pixel_size_nm: float | None = None,
    lr_iterations: int | None = None,
    max_images: int | None = None,
) -> dict[str, Any]:
    """Run the whole evaluation and write ``metrics.json``, ``report.md`` and figures.

    Parameters
    ----------
    data
        Evaluation folder (see :func:`tcan_live.evaluate.dataset.load_eval_set`).
    out
        Output folder (created).
    method
        The method under test; its results are the ``output`` entry. A baseline method is
        also listed under its own name.
    method_scale
        Output pixels per input pixel of the method (default: the data's HR/LR ratio).
    beads
        Measure bead FWHM; default: when the data set says its structure is beads.
    pixel_size_nm
        Input pixel size for files without one.
    lr_iterations
        Fix the Lucy-Richardson iteration count instead of choosing it by PSNR.
    max_images
        Evaluate only the first images.

    Returns
    -------
    dict
        The per-source summary written to ``metrics.json``.
    """
    eval_set = load_eval_set(data, pixel_size_nm=pixel_size_nm, max_images=max_images)
    scale = method_scale or eval_set.scale
    if eval_set.paired and scale != eval_set.scale:
        raise ValueError(
            f"{method.description} upsamples x{scale} but the data's HR is x{eval_set.scale}"
        )
    if method.baseline == "bicubic" and scale == 1:
        raise ValueError(
            f"--baseline bicubic: {data} has no 2x (or larger) HR images, and bicubic "
            "upsampling by 1 is the input itself; use --baseline lucy-richardson"
        )
    beads = eval_set.structure == "beads" if beads is None else beads
    notes = list(NOTES)
    enhancers: dict[str, Enhance] = {}
    details: dict[str, Any] = {
        "data": str(data),
        "images": len(eval_set.images),
        "paired": eval_set.paired,
        "scale": scale,
        "input_pixel_nm": eval_set.images[0].lr_pixel_nm,
        "method": method.description,
    }
    if method.enhance is not None:
        enhancers[OUTPUT] = method.enhance
    lr_enhance, details["lucy_richardson"] = _lucy_richardson(eval_set, scale, lr_iterations, notes)
    enhancers["lucy-richardson"] = lr_enhance
    if scale > 1:
        enhancers["bicubic"] = bicubic_enhancer(scale)
    fields = enhance_all(eval_set, enhancers, scale)
    results: dict[str, SourceResult] = {}
    for item, sources in zip(eval_set.images, fields, strict=True):
        if item.gt is not None:
            sources["gt"] = (item.gt, item.hr_pixel_nm or item.lr_pixel_nm)
        measured = {k: v for k, v in sources.items() if k != "gt"}
        measure_field(item, measured, results, beads=beads)
    order = [INPUT, OUTPUT, "hr", *BASELINES]
    listed = dict(results)
    if method.baseline is not None:
        listed[OUTPUT] = results[method.baseline]  # measured once, listed under both names
    summary: dict[str, dict[str, Any]] = {
        name: listed[name].summary(beads) for name in order if name in listed
    }
    for name, entry in summary.items():
        if name == OUTPUT or name in BASELINES:
            entry["method"] = method.description if name == OUTPUT else name
    out.mkdir(parents=True, exist_ok=True)
    figure_paths = _figures(eval_set, fields, results, beads, out)
    write_metrics_json(summary, out)
    details["per_image"] = {
        name: [
            {"image": item.name, **{k: _finite(v) for k, v in entry.items()}}
            for entry, item in zip(r.per_image, eval_set.images, strict=True)
        ]
        for name, r in results.items()
    }
    details["notes"] = notes
    (out / "details.json").write_text(json.dumps(details, indent=2, default=_jsonable))
    write_report(summary, details, figure_paths, out)
    return summary


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _figures(
    eval_set: EvalSet,
    fields: list[dict[str, tuple[NDArray[np.float32], float]]],
    results: dict[str, SourceResult],
    beads: bool,
    out: Path,
) -> list[Path]:
    paths = []
    if beads:
        widths = {name: r.fwhm_nm for name, r in results.items()}
        paths.append(figures.fwhm_histograms(widths, out / "fwhm_histogram.png"))
    panels = {
        "SNR per image": {n: [e["snr"] for e in r.per_image] for n, r in results.items()},
        "decorrelation resolution (nm)": {
            n: [e["decorr_nm"] for e in r.per_image] for n, r in results.items()
        },
    }
    if beads:
        panels = {"bead FWHM (nm)": {n: r.fwhm_nm for n, r in results.items()}, **panels}
    paths.append(figures.box_plots(panels, out / "box_plots.png"))
    first = eval_set.images[0]
    paths.append(
        figures.image_panels(
            fields[0], first.bead_positions_px, out / "panels.png", f"{first.name}"
        )
    )
    shown = OUTPUT if OUTPUT in fields[0] else next(n for n in BASELINES if n in fields[0])
    errors = error_map(first.lr, fields[0][shown][0])
    paths.append(
        figures.error_map_figure(
            errors.map.astype(np.float32), shown, errors.rse, errors.rsp, out / "error_map.png"
        )
    )
    return paths
