"""``tcan-live demo``: a simulated dual-colour live-cell time-lapse through the whole daemon.

A simulated microtubule + actin movie (``tcan_live.simulate``) is replayed by the camera of a
real pymmcore-plus core (Python devices, :mod:`tcan_live.daemon.demo_microscope`) and acquired
with a real MDA (``useq.MDASequence``, two channels, N time points); the daemon super-resolves
every frame with the shipped default engines, writes ``DIR/demo.zarr`` and publishes previews.
At the end, ``DIR/demo_composite.png`` compares raw and super-resolved (magenta/cyan).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tcan_live.daemon.config import ChannelConfig, DaemonConfig
from tcan_live.daemon.service import Daemon, DaemonError
from tcan_live.pipeline.stats import StatsSnapshot
from tcan_live.preview.config import PreviewConfig
from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.store_layout import is_unstarted_store, stored_layout
from tcan_live.sources.mmcore import PymmcorePlusSourceConfig

CHANNELS = ("microtubules", "actin")
DEFAULT_ENGINES = {"microtubules": "microtubules-small", "actin": "actin-small"}
STORE_NAME = "demo.zarr"
COMPOSITE_NAME = "demo_composite.png"
FRAME_INTERVAL_S = 0.0  # acquire as fast as the camera replays; the daemon keeps up or queues


@dataclass(frozen=True)
class DemoResult:
    """What a demo run produced."""

    store: Path
    composite: Path | None
    stats: StatsSnapshot
    frames: int
    z_slices: int
    positions: int
    raw_pixel_size_nm: float
    acquisition_s: float
    total_s: float
    interrupted: bool


def demo_engines(engines_dir: Path) -> dict[str, Path]:
    """Return the engine folder of each demo channel; a one-line error names a missing one."""
    engines = {channel: engines_dir / name for channel, name in DEFAULT_ENGINES.items()}
    for folder in engines.values():
        if not (folder / "manifest.json").is_file():
            raise DaemonError(
                f"no engine folder at {folder} (the demo's default engine, shipped in engines/); "
                "build it with `tcan-live build-engine` or point --engines-dir at a folder "
                f"holding {' and '.join(DEFAULT_ENGINES.values())}"
            )
    return engines


Z_STEP_UM = 0.5
POSITION_SPACING_UM = 200.0


def simulate_stack(
    frames: int, size: int, seed: int, z_slices: int = 1, positions: int = 1
) -> tuple[np.ndarray, float]:
    """Simulate a (P, T, 2, Z, size, size) uint16 microtubules + actin movie and its pixel size.

    Each position is a field of its own (another seed); slices away from the middle one are
    the in-focus field blurred by a defocus that grows with the distance (a demonstration of
    a z-stack, not a 3D sample).
    """
    from scipy.ndimage import gaussian_filter

    from tcan_live.simulate.timelapse import simulate_timelapse

    fields = []
    pixel_size_nm = 0.0
    for p in range(positions):
        movie = simulate_timelapse(CHANNELS, frames, size, np.random.default_rng([seed, p]))
        pixel_size_nm = movie.lr_pixel_size_nm
        centre = (z_slices - 1) / 2
        slices = [
            movie.lr
            if z == centre
            else gaussian_filter(movie.lr, (0, 0, *(2 * abs(z - centre),) * 2))
            for z in range(z_slices)
        ]
        fields.append(np.stack(slices, axis=2))
    stack = np.clip(np.rint(np.stack(fields)), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    return stack, pixel_size_nm


def demo_config(store: Path, engines: dict[str, Path], preview: bool) -> DaemonConfig:
    """Return the daemon configuration of the demo."""
    return DaemonConfig(
        source=PymmcorePlusSourceConfig(kind="pymmcore-plus"),
        channels={name: ChannelConfig(engine=folder) for name, folder in engines.items()},
        output=OutputConfig(path=store, fsync=False, time_increment_s=None),
        preview=PreviewConfig(enabled=preview),
    )


def fresh_store(out: Path) -> Path:
    """``out/demo.zarr``, with a previous demo's store removed (only a tcan-live store)."""
    store = out / STORE_NAME
    if store.exists():
        if store.is_symlink() or (stored_layout(store) is None and not is_unstarted_store(store)):
            raise DaemonError(f"{store} exists and is not a tcan-live store: choose another --out")
        shutil.rmtree(store)
    out.mkdir(parents=True, exist_ok=True)
    return store


def run_demo(
    *,
    frames: int,
    size: int,
    out: Path,
    engines_dir: Path,
    preview: bool = True,
    seed: int = 0,
    z_slices: int = 1,
    positions: int = 1,
    stop: threading.Event | None = None,
    on_start: Callable[[Daemon], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> DemoResult:
    """Simulate, acquire through a pymmcore-plus MDA, super-resolve, store, preview, compose.

    Parameters
    ----------
    frames, size
        Time points and image side (pixels) of the simulated movie.
    out
        Folder for ``demo.zarr`` and ``demo_composite.png``.
    engines_dir
        Folder holding ``microtubules-small`` and ``actin-small``.
    preview
        Publish previews on the default loopback address.
    z_slices, positions
        A z-stack of this many slices (``Z_STEP_UM`` apart) at each of this many stage
        positions (``POSITION_SPACING_UM`` apart), through the MDA's own z and position plans.
    stop
        Set it (e.g. on Ctrl-C) to cancel the acquisition; frames acquired so far are stored.
    on_start, on_tick
        Called with the started daemon, and every 0.25 s while running (dashboard).
    """
    import useq

    from tcan_live.daemon.composite import write_composite
    from tcan_live.daemon.demo_microscope import build_demo_core

    started = time.monotonic()
    stop = stop or threading.Event()
    engines = demo_engines(engines_dir)
    store = fresh_store(out)
    stack, pixel_size_nm = simulate_stack(frames, size, seed, z_slices, positions)
    places = [(p * POSITION_SPACING_UM, 0.0) for p in range(positions)]
    core = build_demo_core(
        stack,
        list(CHANNELS),
        pixel_size_um=pixel_size_nm / 1000.0,
        z_step_um=Z_STEP_UM,
        positions_um=places,
    )
    plans: dict[str, object] = {}
    if z_slices > 1:
        plans["z_plan"] = {"range": (z_slices - 1) * Z_STEP_UM, "step": Z_STEP_UM}
    if positions > 1:
        plans["stage_positions"] = [
            useq.Position(x=x, y=y, z=0.0, name=f"Pos{p}") for p, (x, y) in enumerate(places)
        ]
    sequence = useq.MDASequence(
        channels=list(CHANNELS),
        time_plan={"interval": FRAME_INTERVAL_S, "loops": frames},
        **plans,
    )
    daemon = Daemon(demo_config(store, engines, preview), core=core)
    try:
        daemon.start()
        if on_start is not None:
            on_start(daemon)
        acquisition = core.run_mda(sequence)
        while acquisition.is_alive():
            if stop.wait(0.25):
                core.mda.cancel()
            elif on_tick is not None:
                on_tick()
        acquisition.join()
        acquired_s = time.monotonic() - started
        while not stop.is_set() and not daemon.wait_idle(0.25):
            if on_tick is not None:
                on_tick()
    finally:
        stats = daemon.stop(drain=not stop.is_set())
    composite = None
    try:
        composite = write_composite(store, out / COMPOSITE_NAME)
    except ValueError:  # interrupted before any time point was complete: nothing to compare
        if not stop.is_set():
            raise
    return DemoResult(
        store=store,
        composite=composite,
        stats=stats,
        frames=frames,
        z_slices=z_slices,
        positions=positions,
        raw_pixel_size_nm=pixel_size_nm,
        acquisition_s=acquired_s,
        total_s=time.monotonic() - started,
        interrupted=stop.is_set(),
    )
