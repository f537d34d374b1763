"""Simulated noise-only fields mixed into a real-pair training run (issue 12)."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import torch
from scipy.ndimage import gaussian_filter

from tcan_live_training.config import ConfigError, parse_train_config
from tcan_live_training.data import WithEmptyFields
from tcan_live_training.trainer import prepare_data

STEPS, BATCH = 4, 2


def _write_fields(root: Path, rng: np.random.Generator) -> None:
    for name in ("1", "2", "3"):
        sted = np.zeros((48, 48))
        sted[rng.integers(0, 48, 20), rng.integers(0, 48, 20)] = 1200.0
        sted = gaussian_filter(sted, 1.0)
        confocal = 3.0 * gaussian_filter(sted, 3.0) + 4.0 + rng.normal(0, 0.5, sted.shape)
        tifffile.imwrite(root / f"{name}_Confocal.tif", np.clip(confocal, 0, 255).astype(np.uint8))
        tifffile.imwrite(root / f"{name}_STED.tif", np.clip(sted, 0, 255).astype(np.uint8))


def _raw(root: Path, empty_fields: dict[str, Any] | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "pairs",
        "path": str(root),
        "layout": "suffix",
        "lr_pattern": "*_Confocal.tif",
        "hr_pattern": "*_STED.tif",
        "pixel_size_nm": 50.0,
        "heldout": ["3"],
        "validation_fraction": 0.5,
        "target_units": "input",
        "patch_size": 16,
        "batch_size": BATCH,
        "normalization": {"noise_floor": 20.0},
    }
    if empty_fields is not None:
        data["empty_fields"] = empty_fields
    return {
        "data": data,
        "model": {
            "preset": "small",
            "overrides": {
                "stem_channels": 8,
                "unet_base": 4,
                "unet_depth": 2,
                "dfcan_features": 8,
                "dfcan_groups": 1,
                "attention_reduction": 2,
            },
        },
        "training": {"epochs": 1, "steps_per_epoch": STEPS, "seed": 3},
    }


@pytest.fixture
def fields(tmp_path: Path) -> Path:
    _write_fields(tmp_path, np.random.default_rng(0))
    return tmp_path


FLAT = {"fraction": 0.25, "haze_fraction": [0.0, 0.0]}


def test_the_share_is_exact_and_deterministic_per_seed_and_epoch(fields: Path) -> None:
    source = prepare_data(parse_train_config(_raw(fields, FLAT))).train.source
    again = prepare_data(parse_train_config(_raw(fields, FLAT))).train.source
    assert isinstance(source, WithEmptyFields) and isinstance(again, WithEmptyFields)
    assert len(source) == STEPS * BATCH
    masks = [[source.is_empty(i, epoch) for i in range(len(source))] for epoch in range(4)]
    assert all(sum(mask) == 2 for mask in masks)  # round(0.25 * 8)
    assert len({tuple(mask) for mask in masks}) > 1  # a new choice each epoch
    for epoch in (0, 1):
        for index in range(len(source)):
            assert again.is_empty(index, epoch) == source.is_empty(index, epoch)
            for a, b in zip(source.pair(index, epoch), again.pair(index, epoch), strict=True):
                np.testing.assert_array_equal(a, b)


def test_empty_fields_have_flat_targets_on_the_pairs_grid(fields: Path) -> None:
    source = prepare_data(parse_train_config(_raw(fields, FLAT))).train.source
    assert isinstance(source, WithEmptyFields)
    empties = [
        source.pair(i, epoch)
        for epoch in range(3)
        for i in range(len(source))
        if source.is_empty(i, epoch)
    ]
    for lr, target in empties:
        assert lr.shape == target.shape == (16, 16)
        assert np.ptp(target) < 1e-5
        assert np.std(lr) < 0.2  # pure noise keeps a small amplitude (noise floor)
    assert len(empties) == 6
    assert source.empty.variety is not None
    assert source.empty.variety.lr_background == (3.0, 3000.0)
    assert source.empty.config.lr_pixel_size_nm == 50.0  # the pairs' input grid


def test_validation_stays_on_the_real_pairs_and_the_checkpoint_says_so(fields: Path) -> None:
    mixed = prepare_data(parse_train_config(_raw(fields, FLAT)))
    plain = prepare_data(parse_train_config(_raw(fields, None)))
    assert not isinstance(plain.train.source, WithEmptyFields)
    assert len(mixed.validation) == len(plain.validation)
    for (a_lr, a_hr), (b_lr, b_hr) in zip(mixed.validation, plain.validation, strict=True):
        assert torch.equal(a_lr, b_lr) and torch.equal(a_hr, b_hr)
    described = mixed.description["train"]["empty_fields"]
    assert described["fraction"] == 0.25 and described["per_epoch"] == 2
    assert described["structures"] == ["empty"]
    assert "empty_fields" not in mixed.description["validation"]
    assert mixed.physics_sigma_px == plain.physics_sigma_px  # fitted on the real pairs only


def test_the_config_round_trips(fields: Path) -> None:
    config = parse_train_config(_raw(fields, {"fraction": 0.2}))
    assert config.data.empty_fields is not None
    assert config.data.empty_fields.fraction == 0.2
    assert config.data.empty_fields.lr_background == (3.0, 3000.0)
    assert parse_train_config(config.model_dump(mode="json", exclude_unset=True)) == config


@pytest.mark.parametrize(
    ("empty_fields", "change", "expected"),
    [
        ({"fraction": 1.5}, {}, "data.empty_fields.fraction: Input should be less than 1"),
        ({"fraction": 0.0}, {}, "data.empty_fields.fraction: Input should be greater than 0"),
        ({}, {}, "data.empty_fields.fraction: Field required"),
        (
            {"fraction": 0.2, "lr_background": [0.0, 10.0]},
            {},
            "data.empty_fields.lr_background: drawn log-uniformly",
        ),
        (
            {"fraction": 0.2, "camera_offset": [5.0, 1.0]},
            {},
            "data.empty_fields.camera_offset: expected [low, high]",
        ),
        ({"fraction": 0.2, "photon": [1.0, 2.0]}, {}, "data.empty_fields.photon: Extra inputs"),
        ({"fraction": 0.2}, {"target_units": "own"}, "data.empty_fields: needs target_units"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    fields: Path, empty_fields: dict[str, Any], change: dict[str, Any], expected: str
) -> None:
    raw = _raw(fields, empty_fields)
    raw["data"].update(change)
    with pytest.raises(ConfigError) as caught:
        parse_train_config(raw)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_simulated_runs_refuse_it() -> None:
    raw = {"data": {"kind": "simulated", "empty_fields": {"fraction": 0.2}}}
    with pytest.raises(ConfigError, match=r"data\.empty_fields: not used with kind = 'simulated'"):
        parse_train_config(raw)
