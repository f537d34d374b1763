"""Training data in the input's units, simulated variety and real-pair layouts (issue 12)."""

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from scipy.ndimage import gaussian_filter

from tcan_live.metrics.intensity import percentile_range
from tcan_live.model import NormalizationSpec
from tcan_live.simulate import SimulationConfig
from tcan_live_training.config import VarietyConfig
from tcan_live_training.data import FolderPairs, SimulatedPairs, find_pairs
from tcan_live_training.data.units import fitted_map, normalize_to_input, simulated_map
from tcan_live_training.data.variety import draw_physics
from tcan_live_training.losses import physics_loss, reblur

SPEC = NormalizationSpec(noise_floor=20.0)


def test_a_simulated_target_in_input_units_reblurs_to_the_noise_free_input() -> None:
    config = SimulationConfig(camera_offset=50.0)
    source = SimulatedPairs(
        ["microtubules"], 64, config, SPEC, seed=0, count=1, target="gt", target_units="input"
    )
    lr, target = source.pair(0, 0)
    fit = fitted_map(lr, target)
    # Normalised by the LR's own range, the target is already in the LR's units.
    assert fit.alpha == pytest.approx(1.0, abs=0.1)
    assert fit.beta == pytest.approx(0.0, abs=0.05)
    assert simulated_map(config).alpha > 1.0  # a sharper image of the same flux peaks higher


def test_variety_is_deterministic_and_spans_its_ranges() -> None:
    variety = VarietyConfig(
        empty_fraction=0.5, photons=(3.0, 3000.0), camera_offset=(0.0, 200.0), pinhole_au=(0.5,)
    )
    base = SimulationConfig()
    draws = [draw_physics(base, variety, np.random.default_rng([0, i])) for i in range(40)]
    again = [draw_physics(base, variety, np.random.default_rng([0, i])) for i in range(40)]
    assert draws == again
    photons = [config.photons for config, _ in draws]
    assert min(photons) < 30 and max(photons) > 300
    assert {config.pinhole_au for config, _ in draws} == {0.5}
    assert 5 < sum(empty for _, empty in draws) < 35


def test_an_empty_sample_has_a_flat_target() -> None:
    variety = VarietyConfig(empty_fraction=1.0)
    source = SimulatedPairs(
        ["microtubules"],
        32,
        SimulationConfig(),
        SPEC,
        seed=0,
        count=1,
        target="gt",
        target_units="input",
        variety=variety,
    )
    lr, target = source.pair(0, 0)
    assert np.ptp(target) < 1e-5
    assert np.std(lr) < 0.1  # pure noise keeps a small amplitude (noise floor)


def test_physics_loss_is_zero_for_the_target_and_reblur_keeps_the_mean() -> None:
    image = torch.rand(1, 1, 32, 32)
    assert float(physics_loss(image, image, 1.5, 1)) == 0.0
    assert float(reblur(image, 1.5, 2).mean()) == pytest.approx(float(image.mean()), rel=1e-2)
    assert reblur(image, 1.5, 2).shape == (1, 1, 16, 16)


def _field(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    sted = np.zeros((64, 64))
    sted[rng.integers(0, 64, 30), rng.integers(0, 64, 30)] = 1200.0
    sted = gaussian_filter(sted, 1.0)
    confocal = 3.0 * gaussian_filter(sted, 3.0) + 4.0
    return (
        np.clip(confocal + rng.normal(0, 0.5, sted.shape), 0, 255).astype(np.uint8),
        np.clip(sted + rng.normal(0, 0.5, sted.shape), 0, 255).astype(np.uint8),
    )


def test_suffix_and_stacked_layouts_read_uint8_and_two_channel_files(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    (tmp_path / "suffix").mkdir()
    (tmp_path / "stacked").mkdir()
    for name in ("1", "2"):
        confocal, sted = _field(rng)
        tifffile.imwrite(tmp_path / "suffix" / f"{name}_Confocal.tif", confocal)
        tifffile.imwrite(tmp_path / "suffix" / f"{name}_STED.tif", sted)
        stack = np.stack([confocal, sted]).astype(np.uint16)
        tifffile.imwrite(tmp_path / "stacked" / f"field{name}.tif", stack)
    suffix = find_pairs(tmp_path / "suffix", "suffix", "*_Confocal.tif", "*_STED.tif")
    stacked = find_pairs(tmp_path / "stacked", "stacked", "*.tif")
    assert [p.group for p in suffix] == ["1", "2"]
    assert [p.group for p in stacked] == ["field1", "field2"]
    for pairs in (suffix, stacked):
        source = FolderPairs(
            pairs, 1, SPEC, target_units="input", registration="check", resample_to_nm=None
        )
        assert len(source) == 2
        for mapping in source.maps:
            assert mapping.alpha == pytest.approx(3.0, rel=0.15)  # the simulated flux ratio
            assert mapping.rsp > 0.95


def test_a_shifted_pair_is_refused_or_registered(tmp_path: Path, rng: np.random.Generator) -> None:
    confocal, sted = _field(rng)
    tifffile.imwrite(tmp_path / "1_Confocal.tif", confocal)
    tifffile.imwrite(tmp_path / "1_STED.tif", np.roll(sted, 4, axis=1))
    pairs = find_pairs(tmp_path, "suffix", "*_Confocal.tif", "*_STED.tif")
    with pytest.raises(ValueError, match="shifted by"):
        FolderPairs(pairs, 1, SPEC, registration="check")
    aligned = FolderPairs(pairs, 1, SPEC, registration="align")
    assert aligned.shifts[0][1] == pytest.approx(-4.0, abs=0.3)


def test_resampling_follows_the_runtime(tmp_path: Path, rng: np.random.Generator) -> None:
    confocal, sted = _field(rng)
    tifffile.imwrite(tmp_path / "1_Confocal.tif", confocal)
    tifffile.imwrite(tmp_path / "1_STED.tif", sted)
    pairs = find_pairs(tmp_path, "suffix", "*_Confocal.tif", "*_STED.tif")
    source = FolderPairs(pairs, 1, SPEC, 20.0, resample_to_nm=40.0)
    lr, hr = source.pair(0, 0)
    assert lr.shape == hr.shape == (32, 32)


def test_normalize_to_input_uses_the_lr_range_for_both() -> None:
    lr = np.linspace(0, 100, 64 * 64, dtype=np.float32).reshape(64, 64)
    low, target = normalize_to_input(lr, 2 * lr, NormalizationSpec())
    span = percentile_range(lr, NormalizationSpec())
    np.testing.assert_allclose(low, (lr - span.low) / span.spread, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(target, (2 * lr - span.low) / span.spread, rtol=1e-5, atol=1e-6)
