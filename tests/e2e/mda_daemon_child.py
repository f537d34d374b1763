"""A daemon with a pymmcore-plus MDA (positions x time x channels x z) in a process of its own.

``python -m tests.e2e.mda_daemon_child ENGINES STORE MODE``; the parent kills it with SIGKILL.

MODE ``after-acquisition``: the enhancement worker is held after its second frame (inside the
pipeline's ``frame_enhanced`` event) while the MDA acquires everything; ``stored N`` is printed
once every raw frame is stored and the worker is held, so the kill hits a store with SR half
done. MODE ``during-acquisition``: the MDA itself is held after its first third of frames
(inside ``frameReady``, after the daemon took the frame); ``stored N`` is printed once those are
stored, so the kill hits the middle of an acquisition.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from tcan_live.daemon.demo_microscope import build_demo_core
from tcan_live.daemon.service import Daemon
from tests.helpers.daemon import daemon_config
from tests.helpers.multidim import CHANNELS, PIXEL_UM, STAGE_UM, Z_STEP_UM, mda_sequence
from tests.helpers.multidim import multidim_stack as make_stack

HELD_AFTER_SR = 2


def main(engines: Path, store: Path, mode: str) -> None:
    stack = make_stack()
    total = stack[:, :, :, :, 0, 0].size
    core = build_demo_core(stack, CHANNELS, PIXEL_UM, z_step_um=Z_STEP_UM, positions_um=STAGE_UM)
    performance = {"batch_frames": 1, "max_frames_in_memory": 4}
    config = daemon_config(engines, store, {"kind": "pymmcore-plus"}, performance=performance)
    daemon = Daemon(config, core=core)
    changed = threading.Condition()
    counts = {"acquired": 0, "stored": 0, "enhanced": 0}
    never = threading.Event()
    hold_acquisition_at = total // 3 if mode == "during-acquisition" else total + 1
    hold_worker_at = HELD_AFTER_SR if mode == "after-acquisition" else total + 1

    def count(what: str) -> int:
        with changed:
            counts[what] += 1
            changed.notify_all()
            return counts[what]

    def on_frame_ready(*_: object) -> None:
        if count("acquired") >= hold_acquisition_at:
            never.wait()  # the MDA stops here until the process is killed

    def on_enhanced(*_: object) -> None:
        if count("enhanced") >= hold_worker_at:
            never.wait()  # the worker stops here until the process is killed

    daemon.pipeline.events.frame_stored.connect(lambda _: count("stored"))
    daemon.pipeline.events.frame_enhanced.connect(on_enhanced)
    daemon.start()  # the daemon's frameReady handler first: it has the frame before the hold
    core.mda.events.frameReady.connect(on_frame_ready)
    worker = threading.Thread(target=core.mda.run, args=(mda_sequence(),), daemon=True)
    worker.start()
    expected = min(total, hold_acquisition_at)
    held = HELD_AFTER_SR if mode == "after-acquisition" else 0
    with changed:
        changed.wait_for(
            lambda: counts["stored"] == expected and counts["enhanced"] >= held, timeout=120
        )
    print(f"stored {counts['stored']}", flush=True)
    never.wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
