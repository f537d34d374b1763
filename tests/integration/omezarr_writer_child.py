"""A writer run in a child process and killed with SIGKILL by test_omezarr_resume.

It stores raw frames ahead of their super-resolved results (a backlog of two time points) and
prints one line per call that returned, so the parent knows what was written before the kill.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tcan_live.sinks.config import OutputConfig
from tcan_live.sinks.omezarr import OmeZarrSink
from tests.integration.omezarr_helpers import CHANNELS, enhance, layout, raw_frame

BACKLOG = 2


def main(path: str, time_points: int) -> None:
    sink = OmeZarrSink(OutputConfig(path=Path(path)))
    sink.setup(layout())
    for t in range(time_points):
        for channel in CHANNELS:
            sink.store_raw(raw_frame(t, channel))
            print(f"raw {t} {channel}", flush=True)
        if t >= BACKLOG:
            for channel in CHANNELS:
                frame = raw_frame(t - BACKLOG, channel)
                sink.append(frame, enhance(frame), {"input_mean": float(frame.image.mean())})
                print(f"sr {t - BACKLOG} {channel}", flush=True)
    print("finished", flush=True)
    sys.stdin.read()  # wait to be killed: the parent decides when the run ends


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
