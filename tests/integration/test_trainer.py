"""Training runs of a tiny TCAN on CPU: loss goes down, resume is bit-identical, --init."""

from __future__ import annotations

import copy
import csv
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.model import build_generator, load_checkpoint, read_checkpoint_meta, save_checkpoint
from tcan_live_training.checkpoints import TrainingError, initialize_from
from tcan_live_training.config import TrainConfig, parse_train_config
from tcan_live_training.gan import TcanGan
from tcan_live_training.trainer import prepare_data, torch_threads, train

REPO = Path(__file__).resolve().parents[2]
TINY_PATH = REPO / "config" / "train" / "tiny.toml"
TINY: dict[str, Any] = tomllib.loads(TINY_PATH.read_text())


def read_log(folder: Path) -> list[dict[str, str]]:
    with (folder / "log.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def tiny(**sections: dict[str, Any]) -> TrainConfig:
    raw = copy.deepcopy(TINY)
    raw["training"]["steps_per_epoch"] = 2
    for name, fields in sections.items():
        raw[name] = {**raw.get(name, {}), **fields}
    return parse_train_config(raw)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs (one warm-up, one adversarial) in one go."""
    out = tmp_path_factory.mktemp("straight")
    train(tiny(), out, progress=False, command="test")
    return out


def test_a_few_steps_lower_the_loss() -> None:
    config = tiny()
    data = prepare_data(config)
    torch.manual_seed(config.training.seed)
    gan = TcanGan(config, torch.device("cpu"))
    with torch_threads(1):
        _train_a_few_steps(gan, data)


def _train_a_few_steps(gan: TcanGan, data: Any) -> None:
    before = gan.validate(data.validation)["val_loss"]
    batch = data.train.batch(data.train.epoch_order(0, 1, 2)[0], 0, 0)
    first = gan.train_step(batch[0], batch[1], adversarial=False)["loss_pixel"]
    for step, indices in enumerate(data.train.epoch_order(0, 4, 2)):
        lr, hr = data.train.batch(indices, 0, step)
        gan.train_step(lr, hr, adversarial=True)
    after = gan.validate(data.validation)["val_loss"]
    assert after < 0.8 * before, (before, after)
    with torch.no_grad():
        again = torch.mean((gan.generator(batch[0]) - batch[1]) ** 2).item()
    assert again < first


def test_resume_continues_bit_identically(straight_run: Path, tmp_path: Path) -> None:
    # 1 epoch through the CLI, then --resume to the configured 2 epochs.
    text = TINY_PATH.read_text().replace("\nepochs = 2", "\nepochs = 1")
    text = text.replace("steps_per_epoch = 3", "steps_per_epoch = 2")
    config_path = tmp_path / "tiny.toml"
    config_path.write_text(text)
    runner = CliRunner()
    result = runner.invoke(
        app, ["train", "--config", str(config_path), "--out", str(tmp_path), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    config_path.write_text(text.replace("\nepochs = 1", "\nepochs = 2"))
    result = runner.invoke(
        app, ["train", "--config", str(config_path), "--out", str(tmp_path), "--resume", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    straight = load_file(straight_run / "last.safetensors")
    resumed = load_file(tmp_path / "last.safetensors")
    assert straight.keys() == resumed.keys()
    assert any(key.startswith("extra.optimizer_d.") for key in straight)
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
    rows = [read_log(folder) for folder in (straight_run, tmp_path)]
    assert len(rows[0]) == len(rows[1]) == 2
    for a, b in zip(*rows, strict=True):
        assert {k: v for k, v in a.items() if k != "time_s"} == {
            k: v for k, v in b.items() if k != "time_s"
        }
    # a changed configuration is refused by name
    config_path.write_text(
        text.replace("\nepochs = 1", "\nepochs = 3").replace("lr_g = 1e-3", "lr_g = 2e-3")
    )
    result = runner.invoke(
        app, ["train", "--config", str(config_path), "--out", str(tmp_path), "--resume", "--quiet"]
    )
    assert result.exit_code == 2
    assert "training.lr_g = 0.001, the config says 0.002" in result.output


def test_cosine_schedule_is_followed_and_fixes_the_epochs(tmp_path: Path) -> None:
    config = tiny(training={"lr_schedule": "cosine", "min_lr_fraction": 0.1})
    train(config, tmp_path, progress=False)
    # 2 epochs x 2 steps: the rate used at each epoch's last step (steps 1 and 3 of 0..3)
    lr_g = [float(row["lr_g"]) for row in read_log(tmp_path)]
    lr_d = [float(row["lr_d"]) for row in read_log(tmp_path)]
    assert lr_g == pytest.approx([1e-3 * (0.1 + 0.9 * 0.75), 1e-4])
    assert lr_d == pytest.approx([5e-4 * (0.1 + 0.9 * 0.75), 5e-5])
    # the schedule spans the configured epochs, so resuming with more is refused by name
    longer = tiny(training={"lr_schedule": "cosine", "min_lr_fraction": 0.1, "epochs": 3})
    with pytest.raises(TrainingError, match=r"training\.epochs = 2, the config says 3"):
        train(longer, tmp_path, resume=True, progress=False)


def test_resume_accepts_a_checkpoint_written_before_newer_config_fields(tmp_path: Path) -> None:
    # A run written by an older version: its saved configuration lacks fields added since
    # (the learning-rate schedule, the discriminator's initialisation); it behaved as their
    # defaults do, so it resumes.
    config = tiny(training={"epochs": 1})
    train(config, tmp_path, progress=False)
    last = tmp_path / "last.safetensors"
    tensors = load_file(last)
    with safe_open(last, "pt") as handle:
        metadata = handle.metadata()
    document = json.loads(metadata["tcan_live"])
    saved = document["training"]["config"]
    for key in ("lr_schedule", "min_lr_fraction"):
        del saved["training"][key]
    del saved["model"]["discriminator"]["init"]
    save_file(tensors, last, metadata={"tcan_live": json.dumps(document)})
    outcome = train(tiny(), tmp_path, resume=True, progress=False)
    assert outcome.epochs == 2
    # a field that was set differently is still refused by name
    save_file(tensors, last, metadata={"tcan_live": json.dumps(document)})
    other = tiny(training={"lr_schedule": "cosine", "epochs": 1})
    refusal = r"training\.lr_schedule = 'constant', the config says 'cosine'"
    with pytest.raises(TrainingError, match=refusal):
        train(other, tmp_path, resume=True, progress=False)


def test_logs_curves_and_self_describing_checkpoints(straight_run: Path) -> None:
    rows = read_log(straight_run)
    assert [row["phase"] for row in rows] == ["warmup", "gan"]
    assert {"loss_g", "loss_d", "val_loss", "val_psnr", "val_ssim", "lr_g", "time_s"} <= set(
        rows[0]
    )
    assert rows[0]["loss_d"] == "nan" and float(rows[1]["loss_d"]) > 0
    png = (straight_run / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    meta = read_checkpoint_meta(straight_run / "best.safetensors")
    assert meta.model_name == "tiny" and meta.scale == 1 and meta.pixel_size_nm == 50.0
    assert meta.architecture.unet_base == 4
    assert meta.normalization.high_percentile == 99.8
    assert meta.data["train"]["kind"] == "simulated"
    assert meta.data["train"]["simulation"]["pixel_size_nm"] == 50.0
    assert meta.training["config"]["training"]["lr_g"] == 1e-3
    assert meta.training["command"] == "test"
    assert meta.training["hardware"]["device"] == "cpu"
    assert meta.training["training_time_s"] > 0
    assert "resume" not in meta.extra  # only last.safetensors carries the training state
    assert "resume" in read_checkpoint_meta(straight_run / "last.safetensors").extra
    best = load_checkpoint(straight_run / "best.safetensors")
    assert best.generator(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)


def _write_pairs(root: Path, count: int) -> None:
    rng = np.random.default_rng(5)
    for folder in ("lr", "hr"):
        (root / folder).mkdir(parents=True)
    for index in range(count):
        hr = np.zeros((48, 48), np.float32)
        hr[rng.integers(4, 44, 30), rng.integers(4, 44, 30)] = 100.0
        blurred = np.fft.ifft2(
            np.fft.fft2(hr)
            * np.fft.fft2(
                np.fft.ifftshift(
                    np.exp(
                        -((np.arange(48) - 24.0) ** 2)[:, None] / 8
                        - ((np.arange(48) - 24.0) ** 2) / 8
                    )
                )
            )
        ).real
        lr = rng.poisson(np.clip(blurred, 0, None) + 2.0).astype(np.float32)
        tifffile.imwrite(root / "lr" / f"{index}.tif", lr)
        tifffile.imwrite(
            root / "hr" / f"{index}.tif", hr + rng.normal(0, 1, hr.shape).astype(np.float32)
        )


def test_init_loads_same_architecture_and_refuses_another(
    straight_run: Path, tmp_path: Path
) -> None:
    _write_pairs(tmp_path / "pairs", 4)
    data = {
        key: value for key, value in TINY["data"].items() if key in ("patch_size", "batch_size")
    }
    config = parse_train_config(
        {
            **copy.deepcopy(TINY),
            "data": {
                **data,
                "kind": "pairs",
                "path": str(tmp_path / "pairs"),
                "pixel_size_nm": 50.0,
                "validation_fraction": 0.25,
            },
            "training": {**TINY["training"], "epochs": 1, "steps_per_epoch": 2},
        }
    )
    source = straight_run / "best.safetensors"
    gan = TcanGan(config, torch.device("cpu"))
    info = initialize_from(source, gan)
    assert info["discriminator_loaded"] is True
    expected = load_checkpoint(source).generator.state_dict()
    for key, value in gan.generator.state_dict().items():
        assert torch.equal(value, expected[key]), key
    outcome = train(config, tmp_path / "out", init=source, progress=False)
    meta = read_checkpoint_meta(outcome.last)
    assert meta.training["init"]["checkpoint"] == str(source)
    assert meta.data["train"]["kind"] == "pairs" and meta.data["train"]["count"] == 3
    assert meta.data["validation"]["count"] == 1

    other = save_checkpoint(
        tmp_path / "other.safetensors", build_generator("small"), pixel_size_nm=50.0
    )
    with pytest.raises(
        TrainingError,
        match=r"--init .*architecture differs .* stem_channels"
        r" \(16 in the checkpoint, 8 configured",
    ):
        train(config, tmp_path / "refused", init=other, progress=False)
    assert not (tmp_path / "refused" / "last.safetensors").exists()
    result = CliRunner().invoke(
        app,
        ["train", "--config", str(TINY_PATH), "--out", str(tmp_path / "cli"), "--init", str(other)],
    )
    assert (
        result.exit_code == 2 and "transfer learning needs the same architecture" in result.output
    )


def test_trained_checkpoint_builds_an_engine(straight_run: Path, tmp_path: Path) -> None:
    import tcan_live

    engine_dir = tmp_path / "engine"
    result = CliRunner().invoke(
        app,
        [
            "build-engine",
            str(straight_run / "best.safetensors"),
            "--backend",
            "onnxruntime",
            "--tile",
            "32",
            "--out",
            str(engine_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    engine = tcan_live.load_engine(engine_dir)
    try:
        assert engine.manifest["model_name"] == "tiny" and engine.pixel_size_nm == 50.0
        frame = np.random.default_rng(0).poisson(20.0, (40, 40)).astype(np.uint16)
        output = engine.enhance(frame, pixel_size_nm=50.0)
        assert output.image.shape == (40, 40) and np.isfinite(output.image).all()
    finally:
        engine.close()


def test_resume_and_init_need_usable_files(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="does not exist; nothing to resume"):
        train(tiny(), tmp_path, resume=True, progress=False)
    with pytest.raises(TrainingError, match="exclude each other"):
        train(tiny(), tmp_path, resume=True, init=tmp_path / "x.safetensors", progress=False)
    (tmp_path / "model.pt").write_bytes(b"\x80\x04junk")
    with pytest.raises(TrainingError, match=r"--init: .*pickle-based torch file"):
        train(tiny(), tmp_path, init=tmp_path / "model.pt", progress=False)
