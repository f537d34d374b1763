"""Print the simulator's measured physics: PSF widths, bead FWHM, Lucy-Richardson, timing.

Run ``python -m tcan_live.evaluate.physics_report`` (about a minute on 2 cores); the numbers in
docs come from it. Bead FWHM uses the same fit as ``tcan-live evaluate``.
"""

from __future__ import annotations

import time

import numpy as np

from tcan_live.evaluate.baselines import choose_iterations, lucy_richardson
from tcan_live.metrics import bead_fwhm
from tcan_live.simulate import STRUCTURES, SimulationConfig, simulate_pair
from tcan_live.simulate.optics import psf_for, sampled_psf


def profile_fwhm_nm(psf: np.ndarray, pixel_nm: float) -> float:
    """Full width at half maximum of the PSF's central row, by linear interpolation."""
    row = psf[psf.shape[0] // 2].astype(np.float64)
    row = row / row.max()
    centre = int(np.argmax(row))
    right = centre + int(np.argmax(row[centre:] < 0.5))
    left = centre - int(np.argmax(row[centre::-1] < 0.5))

    def crossing(inner: int, outer: int) -> float:
        return inner + (row[inner] - 0.5) / (row[inner] - row[outer]) * (outer - inner)

    return (crossing(right - 1, right) - crossing(left + 1, left)) * pixel_nm


def main() -> None:
    """Measure and print."""
    config = SimulationConfig()
    for name, low in (("confocal", True), ("sted", False)):
        psf = psf_for(name, config, low_resolution=low)  # type: ignore[arg-type]
        centre = np.array([[psf.shape[0] // 2] * 2])
        fit = bead_fwhm(psf, config.fine_grid_nm, window=41, centres=centre).mean_nm
        profile = profile_fwhm_nm(psf, config.fine_grid_nm)
        print(f"{name} PSF: profile FWHM {profile:.0f} nm, 2D Gaussian fit {fit:.0f} nm")
    widths: dict[str, list[float]] = {"lr": [], "hr": [], "gt": [], "lucy-richardson": []}
    psf = sampled_psf(config)
    chosen = []
    for seed in range(8):
        pair = simulate_pair("beads", 128, np.random.default_rng([seed, 1]), config)
        validation = simulate_pair("beads", 128, np.random.default_rng([seed, 2]), config)
        iterations = choose_iterations(validation.lr, validation.gt, psf).iterations
        chosen.append(iterations)
        images = {"lr": pair.lr, "hr": pair.hr, "gt": pair.gt}
        images["lucy-richardson"] = lucy_richardson(pair.lr, psf, iterations)
        for name, image in images.items():
            widths[name] += list(bead_fwhm(image, config.pixel_size_nm).fwhm_nm)
    for name, values in widths.items():
        print(
            f"beads {name}: {np.mean(values):.0f} +- {np.std(values, ddof=1):.0f} nm "
            f"(n={len(values)})"
        )
    print(f"Lucy-Richardson iterations chosen by PSNR on 8 validation pairs: {chosen}")
    for structure in STRUCTURES:
        simulate_pair(structure, 128, np.random.default_rng(0), config)  # PSF caches warm
        times = []
        for seed in range(10):
            start = time.perf_counter()
            simulate_pair(structure, 128, np.random.default_rng(seed), config)
            times.append(time.perf_counter() - start)
        print(f"simulate_pair({structure!r}, 128): median {1000 * np.median(times):.0f} ms")


if __name__ == "__main__":
    main()
