"""``tcan-live train`` under ``torchrun --nproc-per-node 2`` on the CPU (DDP over gloo).

Two real processes train the tiny model with the same global batch as one process; their
loss curve and weights must match the single process's within the stated tolerance, rank 0
alone writes the run folder, and a DDP run resumed from its checkpoint continues exactly as
the uninterrupted DDP run.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tcan_live.model import read_checkpoint_meta
from tcan_live_training.config import parse_train_config
from tcan_live_training.trainer import train

REPO = Path(__file__).resolve().parents[2]
TINY_PATH = REPO / "config" / "train" / "tiny.toml"
BIN = Path(sys.executable).parent
LOSSES = ("loss_g", "loss_pixel", "loss_ssim", "loss_adv", "loss_d", "val_loss", "val_ssim")
#: Two processes compute the gradient of the same global batch as one, up to float32 summation
#: order (each convolution's batch, the all-reduce). Measured after the 6 steps (docs/batch.md):
#: logged losses equal to the log's 6 digits but for loss_adv and loss_d (3e-6 relative), the
#: generator's weights within 1e-7. Held here with margin:
LOSS_RTOL = 1e-4
GENERATOR_ATOL = 1e-6
#: The relativistic loss sees D(fake) - D(real), so the discriminator's last bias (and a hidden
#: unit's bias where both images share a LeakyReLU slope) has a gradient of exactly zero up to
#: float noise, which Adam normalises into a full step of either sign: such a bias may differ by
#: up to lr_d per adversarial step, and does (6.6e-4 measured). Its effect on the losses is
#: the 3e-6 above.
DISCRIMINATOR_ATOL = 5e-4 * 3


def write_config(folder: Path, *, epochs: int = 2, batch_size: int = 2) -> Path:
    """config/train/tiny.toml with ``epochs`` and ``batch_size`` changed (the global batch)."""
    text = TINY_PATH.read_text()
    text = text.replace("\nepochs = 2", f"\nepochs = {epochs}")
    text = text.replace("\nbatch_size = 2", f"\nbatch_size = {batch_size}")
    path = folder / "tiny.toml"
    path.write_text(text)
    loaded = tomllib.loads(text)
    assert (loaded["training"]["epochs"], loaded["data"]["batch_size"]) == (epochs, batch_size)
    return path


def torchrun(config: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(BIN / "torchrun"),
        "--standalone",
        "--nproc-per-node",
        "2",
        "--no-python",
        str(BIN / "tcan-live"),
        "train",
        "--config",
        str(config),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=environment
    )


def read_log(folder: Path) -> list[dict[str, str]]:
    with (folder / "log.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same two epochs (warm-up, then adversarial): one process, and two under torchrun."""
    folder = tmp_path_factory.mktemp("ddp")
    config = write_config(folder)
    single = folder / "single"
    train(parse_train_config(tomllib.loads(config.read_text())), single, progress=False)
    parallel = folder / "parallel"
    result = torchrun(config, parallel)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("trained 2 epochs (6 steps)") == 1  # printed by rank 0 only
    return {"config": config, "single": single, "parallel": parallel}


def test_two_processes_follow_the_single_process_loss_curve(runs: dict[str, Path]) -> None:
    single, parallel = read_log(runs["single"]), read_log(runs["parallel"])
    assert [row["epoch"] for row in parallel] == ["0", "1"]  # one writer: no duplicated rows
    for one, two in zip(single, parallel, strict=True):
        for name in LOSSES:
            if one[name] == "nan":  # the adversarial losses during the warm-up epoch
                assert two[name] == "nan"
                continue
            assert float(two[name]) == pytest.approx(float(one[name]), rel=LOSS_RTOL), name
    weights_one = load_file(runs["single"] / "last.safetensors")
    weights_two = load_file(runs["parallel"] / "last.safetensors")
    assert weights_one.keys() == weights_two.keys()
    for name, tensor in weights_one.items():
        if name.startswith("extra."):  # discriminator and optimiser state
            if name.startswith("extra.discriminator."):
                difference = (weights_two[name] - tensor).abs().max().item()
                assert difference <= DISCRIMINATOR_ATOL, name
            continue
        assert torch.allclose(weights_two[name], tensor, rtol=0, atol=GENERATOR_ATOL), name
    meta = read_checkpoint_meta(runs["parallel"] / "last.safetensors")
    assert meta.training["data_parallel"] == {
        "processes": 2,
        "backend": "gloo",
        "batch_per_process": 1,
    }
    assert "data_parallel" not in read_checkpoint_meta(runs["single"] / "last.safetensors").training


def test_a_resumed_ddp_run_continues_as_the_uninterrupted_one(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "resumed"
    first = torchrun(write_config(tmp_path, epochs=1), out)
    assert first.returncode == 0, first.stdout + first.stderr
    assert [row["epoch"] for row in read_log(out)] == ["0"]
    resumed = torchrun(runs["config"], out, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    straight = load_file(runs["parallel"] / "last.safetensors")
    continued = load_file(out / "last.safetensors")
    assert straight.keys() == continued.keys()
    for name, tensor in straight.items():
        assert torch.equal(continued[name], tensor), name
    untimed = [{k: v for k, v in row.items() if k != "time_s"} for row in read_log(out)]
    assert untimed == [
        {k: v for k, v in row.items() if k != "time_s"} for row in read_log(runs["parallel"])
    ]


def test_a_batch_that_does_not_split_is_refused_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, batch_size=3)
    result = torchrun(config, tmp_path / "out")
    assert result.returncode != 0
    message = "data.batch_size 3 does not split over 2 processes; use a multiple of 2"
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()
