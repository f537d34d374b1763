"""Helpers for daemon tests: tiny real engines built with ``tcan-live build-engine``, configs,
and reading a store back."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.daemon.config import DaemonConfig, parse_config
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
