import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner, Result

from tcan_live.cli.main import app
from tcan_live.engine.manifest import read_manifest
from tests.synthetic import tiny_checkpoint

runner = CliRunner()


def build(checkpoint: Path, out: Path, *options: str) -> Result:
    command = ["build-engine", str(checkpoint), "--backend", "onnxruntime", "--tile", "32"]
    return runner.invoke(app, [*command, "--out", str(out), *options])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(5)
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "cli.safetensors", scale=1)


def test_build_engine_then_bench(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "engines" / "cli-ort"
    built = build(checkpoint, out, "--max-batch", "2")
    assert built.exit_code == 0, built.output
    for text in ("onnx.checker: passed", "Parity against torch fp32", "pass", "model.onnx"):
        assert text in built.output
    assert read_manifest(out).max_batch == 2

    report = tmp_path / "bench.json"
    command = ["bench", "engine", "--engine", str(out), "--frames", "1", "--size", "48"]
    benched = runner.invoke(app, [*command, "--json", str(report)])
    assert benched.exit_code == 0, benched.output
    document = json.loads(report.read_text())
    eager, engine = document["runs"]
    assert eager["engine"] is None and eager["backend"] == "torch-eager/cpu"
    assert engine["engine"] == str(out) and engine["backend"] == "onnxruntime"
    for run in (eager, engine):
        assert run["megapixels_per_s"] > 0 and run["peak_rss_mb"] > 0
        assert run["frames"] == 1 and run["size"] == 48
    assert engine["speedup_vs_eager"] == pytest.approx(
        engine["megapixels_per_s"] / eager["megapixels_per_s"]
    )
    assert document["machine"]["logical_cpus"] >= 1


def test_build_engine_refusal_exits_nonzero(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "refused"
    result = build(checkpoint, out, "--tolerance", "0")
    assert result.exit_code == 1
    assert "refused: max relative error" in result.output and "nothing was written" in result.output
    assert not out.exists()


def test_bench_needs_the_engines_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "e"
    assert build(checkpoint, out).exit_code == 0
    other = tiny_checkpoint(tmp_path / "other.safetensors")
    result = runner.invoke(
        app, ["bench", "engine", "--engine", str(out), "--checkpoint", str(other)]
    )
    assert result.exit_code == 2  # bad input
    assert "the torch eager baseline needs the engine's checkpoint cli.safetensors" in result.output


def test_bad_checkpoint_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"PK\x03\x04 not a checkpoint")
    result = runner.invoke(
        app, ["build-engine", str(bogus), "--backend", "onnxruntime", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2  # bad input
    assert "pickle-based torch file" in result.output
