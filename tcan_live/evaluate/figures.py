"""PNG figures of an evaluation: FWHM histograms, Tukey box plots, image panels, error map."""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
PROFILE_PAIR_PX = (3.0, 10.0)  # bead pairs this far apart (HR pixels) make a telling profile


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fwhm_histograms(fwhm_nm: dict[str, list[float]], out: Path) -> Path:
    """Overlaid FWHM histograms, one per source (as Wang et al. 2019, Fig. 5)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    values = [v for widths in fwhm_nm.values() for v in widths]
    bins = np.linspace(min(values, default=0), max(values, default=1), 40)
    for name, widths in fwhm_nm.items():
        if widths:
            spread = np.std(widths, ddof=1) if len(widths) > 1 else 0.0
            label = f"{name}: {np.mean(widths):.0f} +- {spread:.0f} nm (n={len(widths)})"
            axis.hist(widths, bins=bins, alpha=0.55, label=label)
    axis.set_xlabel("bead FWHM (nm)")
    axis.set_ylabel("beads")
    if values:
        axis.legend(fontsize=8)
    else:  # no bead could be fitted: say so instead of an empty legend
        axis.text(0.5, 0.5, "no bead fitted", ha="center", va="center", transform=axis.transAxes)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def box_plots(panels: dict[str, dict[str, list[float]]], out: Path) -> Path:
    """Tukey box plots (whiskers 1.5 IQR) of several metrics by source (Huang et al. Fig. 4)."""
    plt = _pyplot()
    shown = {title: data for title, data in panels.items() if any(data.values())}
    figure, axes = plt.subplots(1, max(len(shown), 1), figsize=(4.2 * max(len(shown), 1), 4))
    for axis, (title, data) in zip(np.atleast_1d(axes), shown.items(), strict=False):
        names = [name for name, values in data.items() if values]
        finite = [[v for v in data[name] if math.isfinite(v)] for name in names]
        axis.boxplot(finite, whis=1.5)
        axis.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def profile_line(
    points_px: NDArray[np.float64] | None, reference: FloatArray
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """End points (row, col) of a line through the closest usable pair of points.

    Without such a pair the line crosses the reference's brightest (smoothed) pixel
    horizontally.
    """
    from scipy.ndimage import gaussian_filter

    if points_px is not None and len(points_px) >= 2:
        margin = 4
        inside = [
            p
            for p in points_px
            if margin <= p[0] < reference.shape[0] - margin
            and margin <= p[1] < reference.shape[1] - margin
        ]
        pairs = [
            (float(np.hypot(*(a - b))), a, b)
            for a, b in combinations(inside, 2)
            if PROFILE_PAIR_PX[0] <= np.hypot(*(a - b)) <= PROFILE_PAIR_PX[1]
        ]
        if pairs:
            _, a, b = min(pairs, key=lambda pair: pair[0])
            return a + (a - b) * 0.75, b + (b - a) * 0.75
    smooth = gaussian_filter(np.asarray(reference, np.float64), 2.0)
    row, col = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    half = min(15, reference.shape[1] // 4)
    return np.array([row, col - half], float), np.array([row, col + half], float)


def image_panels(
    sources: dict[str, tuple[FloatArray, float]],
    points_px: NDArray[np.float64] | None,
    out: Path,
    title: str,
) -> Path:
    """Each source with a zoomed inset, plus line profiles across a close pair of beads.

    All sources are shown on the finest grid (pixel replication), each scaled to its own
    0.1-99.9 percentile range; profiles are normalised to their maximum.
    """
    from scipy.ndimage import map_coordinates

    from tcan_live.evaluate.measure import to_grid

    plt = _pyplot()
    grid = max(image.shape for image, _ in sources.values())
    names = list(sources)
    on_grid = {name: to_grid(sources[name][0], grid) for name in names}
    reference = on_grid.get("gt", on_grid.get("hr", on_grid[names[-1]]))
    start, end = profile_line(points_px, reference)
    centre = (start + end) / 2
    zoom = max(12, int(np.hypot(*(end - start))) + 6)
    r0 = int(np.clip(centre[0] - zoom / 2, 0, grid[0] - zoom))
    c0 = int(np.clip(centre[1] - zoom / 2, 0, grid[1] - zoom))
    figure = plt.figure(figsize=(3.2 * len(names), 6.4))
    layout = figure.add_gridspec(2, len(names))
    top = [figure.add_subplot(layout[0, column]) for column in range(len(names))]
    profile_axis = figure.add_subplot(layout[1, :])
    samples = np.linspace(0.0, 1.0, 200)
    coords = start[:, None] + (end - start)[:, None] * samples[None, :]
    length_nm = float(np.hypot(*(end - start))) * min(pixel for _, pixel in sources.values())
    for column, name in enumerate(names):
        image = on_grid[name]
        low, high = np.percentile(image, (0.1, 99.9))
        axis = top[column]
        axis.imshow(image, cmap="magma", vmin=low, vmax=high)
        axis.plot([start[1], end[1]], [start[0], end[0]], color="cyan", lw=0.8)
        axis.add_patch(plt.Rectangle((c0, r0), zoom, zoom, fill=False, edgecolor="white", lw=0.8))
        inset = axis.inset_axes((0.6, 0.6, 0.38, 0.38))
        inset.imshow(image[r0 : r0 + zoom, c0 : c0 + zoom], cmap="magma", vmin=low, vmax=high)
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_edgecolor("white")
        axis.set_title(f"{name} ({sources[name][1]:.0f} nm px)", fontsize=9)
        axis.axis("off")
        profile = map_coordinates(image.astype(np.float64), coords, order=1)
        profile_axis.plot(samples * length_nm, profile / max(profile.max(), 1e-12), label=name)
    profile_axis.set_xlabel("distance along line (nm)")
    profile_axis.set_ylabel("normalised intensity")
    profile_axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def error_map_figure(error: FloatArray, name: str, rse: float, rsp: float, out: Path) -> Path:
    """Plot the SQUIRREL-style error map of one source against the input."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.6, 4))
    shown = axis.imshow(error, cmap="inferno")
    figure.colorbar(shown, ax=axis, label="|input - blurred, scaled source| (photons)")
    axis.set_title(f"error map of {name}: RSE {rse:.2f}, RSP {rsp:.3f}", fontsize=9)
    axis.axis("off")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
