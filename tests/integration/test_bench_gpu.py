"""``tcan-live bench gpu``: options, the no-GPU line and the report, on the CPU (no GPU here)."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tcan_live.bench.gpu import no_cuda_message, run_gpu_bench
from tcan_live.cli.main import app
from tcan_live.engine.build import build_engine
from tcan_live.engine.manifest import EngineError
from tests.synthetic import tiny_checkpoint

runner = CliRunner()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_without_cuda_one_clear_line() -> None:
    result = runner.invoke(app, ["bench", "gpu"])
    assert result.exit_code != 0
    assert "no CUDA device" in result.output and "--device cpu" in result.output
    with pytest.raises(EngineError, match="no CUDA device"):
        run_gpu_bench()
    assert "\n" not in no_cuda_message()


def test_report_structure_on_the_cpu(tmp_path: Path) -> None:
    torch.manual_seed(0)
    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    engine = build_engine(checkpoint, "onnxruntime", tmp_path / "ort", tile=32, halo=8).folder
    out = tmp_path / "gpu.json"
    command = ["bench", "gpu", "--device", "cpu", "--presets", "small", "--precisions", "fp32"]
    grid = ["--modes", "eager,compile", "--sizes", "32", "--batches", "1,2", "--iterations", "3"]
    result = runner.invoke(
        app, [*command, *grid, "--engine", str(engine), "--budget", "120", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["benchmark"] == "gpu" and report["device"] == "cpu" and report["gpu"] is None
    assert [(c["mode"], c["size"], c["batch"]) for c in report["cases"]] == [
        ("eager", 32, 1),
        ("eager", 32, 2),
    ]
    for case in report["cases"]:
        assert case["megapixels_per_s"] > 0 and case["peak_memory_mb"] is None
        assert case["latency_ms_p99"] >= case["latency_ms_p50"] > 0
        assert case["fraction_of_bf16_matmul"] > 0
    assert report["skipped"] == ["small fp32 compile: compiled modes run on CUDA only"]
    (run,) = report["engines"]
    assert run["backend"] == "onnxruntime" and run["tile"] == 32 and run["latency_ms_p50"] > 0
    assert report["bf16_matmul_tflop_per_s"] > 0


def test_unknown_grid_values_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        run_gpu_bench(device="cpu", modes=("fast",))
    with pytest.raises(ValueError, match="unknown precision"):
        run_gpu_bench(device="cpu", precisions=("fp8",))
