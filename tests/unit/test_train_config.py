from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live_training.config import ConfigError, load_train_config

REPO = Path(__file__).resolve().parents[2]
TINY = (REPO / "config" / "train" / "tiny.toml").read_text()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("lr_g = 1e-3", "lr_g = -1", "training.lr_g: Input should be greater than 0"),
        ("patch_size = 32", "patch_sise = 32", "data.patch_sise: Extra inputs are not permitted"),
        ('pixel = "mse"', 'pixel = "l3"', "loss.pixel: Input should be 'mse' or 'l1'"),
        ("scale = 1", "scale = 2", "model.scale: 2 differs from the simulation's scale (1"),
        ("unet_base = 4", "unet_base = 0", "model.overrides.unet_base: Input should be greater"),
        ("{ base = 4", "{ base = -4", "model.discriminator.base: Input should be greater"),
        ('structures = ["beads", "microtubules"]', 'structures = ["cells"]', "data.structures.0"),
        (
            'kind = "simulated"',
            'kind = "pairs"',
            "data.simulation_preset: not used with kind = 'pairs'",
        ),
        (
            'simulation_preset = "confocal-sted"',
            "simulation = { photons = -5 }",
            "data.simulation.photons: Input should be greater than 0",
        ),
        ("ssim_weight = 0.1", "ssim_window = 8", "loss.ssim_window: must be odd"),
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in TINY
    path = _write(tmp_path, TINY.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_train_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_pairs_need_a_path_and_pixel_size(tmp_path: Path) -> None:
    text = "[data]\nkind = 'pairs'\npath = 'd'\n[training]\nepochs = 1\n"
    with pytest.raises(ConfigError, match=r"data\.pixel_size_nm: the input pixel size is required"):
        load_train_config(_write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"data\.path: required"):
        load_train_config(_write(tmp_path, "[data]\nkind = 'pairs'\n[training]\nepochs = 1\n"))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_train_config(_write(tmp_path, "[data\nkind = 1"))
    with pytest.raises(ConfigError, match="no such training configuration file"):
        load_train_config(tmp_path / "missing.toml")


def test_shipped_configs_are_valid() -> None:
    folder = REPO / "config" / "train"
    names = sorted(path.stem for path in folder.glob("*.toml"))
    assert {
        "tiny",
        "microtubules-small",
        "actin-small",
        "beads-small",
        "microtubules-paper",
    } <= set(names)
    for path in sorted(folder.rglob("*.toml")):
        config = load_train_config(path)
        if path.parent.name == "archive":
            # Superseded recipes of the shipped engines; "-gan" and "-long" files are later
            # stages (adversarial, longer) of the model they name.
            assert config.name == path.stem.removesuffix("-gan").removesuffix("-long")
        else:
            assert config.name == path.stem


def test_cli_reports_config_error_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, TINY.replace("lr_g = 1e-3", "lr_g = 0"))
    result = CliRunner().invoke(app, ["train", "--config", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert f"error: {path}: training.lr_g: Input should be greater than 0" in result.output
