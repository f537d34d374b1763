"""Helpers for daemon tests: tiny real engines built with ``tcan-live build-engine``, configs,
and reading a store back."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from pymmcore_plus.experimental.unicore import UniMMCore
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.daemon.config import DaemonConfig, parse_config
from tcan_live.daemon.service import Daemon
from tcan_live.pipeline.stats import StatsSnapshot
from tcan_live.preview.protocol import Preview
from tcan_live.preview.subscriber import PreviewSubscriber
from tests.helpers.pycromanager_backend import python_backend
from tests.synthetic import tiny_checkpoint

DEMO_ENGINES = ("microtubules-small", "actin-small")


def build_tiny_engine(folder: Path, seed: int) -> Path:
    """A tiny TCAN (scale 1, 50 nm) built into an onnxruntime engine with tile 32."""
    torch.manual_seed(seed)
    checkpoint = tiny_checkpoint(folder.parent / f"{folder.name}.safetensors")
    command = ["build-engine", str(checkpoint), "--backend", "onnxruntime", "--tile", "32"]
    result = CliRunner().invoke(app, [*command, "--max-batch", "8", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def daemon_config(
    engines: Path, out: Path, source: dict[str, Any], **sections: dict[str, Any]
) -> DaemonConfig:
    """A two-channel (microtubules, actin) config on the tiny engines, no preview by default."""
    document: dict[str, Any] = {
        "source": source,
        "channels": {
            "microtubules": {"engine": str(engines / DEMO_ENGINES[0])},
            "actin": {"engine": str(engines / DEMO_ENGINES[1])},
        },
        "output": {"path": str(out), "fsync": False},
        "preview": {"enabled": False},
        **sections,
    }
    return parse_config(document, base_dir=out.parent, origin="test")


def journal_counts(store: Path, event: str) -> Counter[tuple[int, str]]:
    """How often each (t, channel) has ``event`` (``raw``, ``sr``, ``skip``) in the journal."""
    counts: Counter[tuple[int, str]] = Counter()
    for line in (store / "tcan_live" / "journal.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == event:
            counts[(int(record["t"]), str(record["channel"]))] += 1
    return counts


@contextmanager
def previews_received(daemon: Daemon) -> Iterator[list[Preview]]:
    """Collect every preview the daemon publishes while inside (a real SUB socket)."""
    assert daemon.publisher is not None, "the daemon publishes no previews"
    previews: list[Preview] = []
    listening, done = threading.Event(), threading.Event()

    def listen(address: str) -> None:
        with PreviewSubscriber(address) as subscriber:
            listening.set()
            while not done.is_set():
                if (preview := subscriber.receive(timeout=0.1)) is not None:
                    previews.append(preview)

    listener = threading.Thread(target=listen, args=(daemon.publisher.endpoint,))
    listener.start()
    try:
        assert listening.wait(10)
        yield previews
    finally:
        done.set()
        listener.join()


def acquire_with_pycromanager(
    daemon: Daemon, core: UniMMCore, events: list[dict[str, Any]], folder: Path
) -> StatsSnapshot:
    """Run pycromanager's Acquisition (Python backend on ``core``) through the daemon's hook.

    Waits until every frame is enhanced and stops the daemon; returns its counters.
    """
    from pycromanager import Acquisition

    with python_backend(core):
        with Acquisition(str(folder), "run", image_process_fn=daemon.image_process_fn) as acq:
            acq.acquire(events)
        acq.get_dataset().close()
    assert daemon.wait_idle(300)
    return daemon.stop(drain=True)
