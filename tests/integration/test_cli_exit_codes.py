"""One exit-code rule in every command: 2 for bad configuration or input, 1 for failed work."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tests.synthetic import tiny_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


def _bad_input_cases(tmp: Path, checkpoint: Path) -> list[tuple[list[str], str]]:
    missing = tmp / "missing[/]dir"  # rich markup in a path prints as it is
    return [
        (
            [
                "infer",
                str(checkpoint),
                "--out",
                str(tmp),
                "--normalization",
                "bogus",
                "--checkpoint",
                str(checkpoint),
            ],
            "--normalization 'bogus': expected one of per-frame",
        ),
        (
            [
                "infer",
                str(checkpoint),
                "--out",
                str(tmp),
                "--dtype",
                "int8",
                "--checkpoint",
                str(checkpoint),
            ],
            "--dtype 'int8': expected one of float32, uint16",
        ),
        (
            ["infer", str(checkpoint), "--out", str(tmp), "--engine", str(missing)],
            f"{missing}/manifest.json: no engine manifest",
        ),
        (
            ["evaluate", "--data", str(tmp), "--out", str(tmp)],
            "give exactly one of --engine, --checkpoint or --baseline",
        ),
        (
            ["evaluate", "--data", str(missing), "--out", str(tmp), "--baseline", "bicubic"],
            f"{missing}: no such data folder",
        ),
        (["train", "--config", str(missing / "x.toml")], "no such training configuration file"),
        (
            [
                "build-engine",
                str(checkpoint),
                "--backend",
                "onnxruntime",
                "--precision",
                "fp16",
                "--out",
                str(tmp / "e"),
            ],
            "CPU engine: fp32 only",
        ),
        (
            [
                "build-engine",
                str(missing / "c.safetensors"),
                "--backend",
                "onnxruntime",
                "--out",
                str(tmp / "e"),
            ],
            "c.safetensors",
        ),
        (["bench", "pipeline", "--engine", str(missing)], "no engine manifest"),
        (["watch", str(tmp), "--out", str(tmp / "o.zarr")], "give --engine"),
        (["run", "--config", str(missing / "d.toml")], "cannot read the config file"),
    ]


def test_bad_input_exits_2_with_one_plain_line(tmp_path: Path, checkpoint: Path) -> None:
    for command, expected in _bad_input_cases(tmp_path, checkpoint):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert expected in result.output, (command, result.output)
        assert result.output.count("error:") == 1, (command, result.output)
        assert "Traceback" not in result.output
