from pathlib import Path

import numpy as np
import pytest
import tifffile

from tcan_live.core.tiff_files import write_tiff
from tcan_live.model import NormalizationSpec
from tcan_live.simulate import SimulationConfig
from tcan_live_training.data import (
    Augmentation,
    BatchMaker,
    FolderPairs,
    SimulatedPairs,
    find_pairs,
    normalize_pair,
    paired_patch,
    read_pair,
    split_groups,
)

SPEC = NormalizationSpec()


def _bin(image: np.ndarray, scale: int) -> np.ndarray:
    h, w = image.shape
    return image.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))


@pytest.mark.parametrize("scale", [1, 2])
def test_paired_patches_stay_aligned(scale: int, rng: np.random.Generator) -> None:
    hr = rng.random((48 * scale, 40 * scale)).astype(np.float32)
    lr = _bin(hr, scale).astype(np.float32)
    seen = set()
    for seed in range(24):
        lr_patch, hr_patch = paired_patch(
            lr, hr, 16, scale, np.random.default_rng(seed), Augmentation()
        )
        assert lr_patch.shape == (16, 16)
        assert hr_patch.shape == (16 * scale, 16 * scale)
        np.testing.assert_allclose(_bin(hr_patch, scale), lr_patch, rtol=1e-6)
        seen.add(lr_patch.tobytes())
    assert len(seen) > 12  # the crops and transforms really vary


def test_centre_crop_without_augmentation() -> None:
    lr = np.arange(64, dtype=np.float32).reshape(8, 8)
    hr = np.kron(lr, np.ones((2, 2), np.float32))
    off = Augmentation(random_crop=False, rotate90=False, flip=False)
    lr_patch, hr_patch = paired_patch(lr, hr, 4, 2, np.random.default_rng(0), off)
    np.testing.assert_array_equal(lr_patch, lr[2:6, 2:6])
    np.testing.assert_array_equal(hr_patch, hr[4:12, 4:12])


def test_patch_errors() -> None:
    with pytest.raises(ValueError, match="not 2 x the LR shape"):
        paired_patch(
            np.zeros((8, 8), np.float32),
            np.zeros((8, 8), np.float32),
            4,
            2,
            np.random.default_rng(0),
            Augmentation(),
        )
    with pytest.raises(ValueError, match="smaller than the 16 px"):
        paired_patch(
            np.zeros((8, 8), np.float32),
            np.zeros((8, 8), np.float32),
            16,
            1,
            np.random.default_rng(0),
            Augmentation(),
        )


def test_pairs_are_normalised_each_with_own_percentiles(rng: np.random.Generator) -> None:
    lr = rng.normal(100.0, 10.0, (64, 64)).astype(np.float32)
    hr = rng.normal(20.0, 3.0, (64, 64)).astype(np.float32)
    spec = NormalizationSpec(low_percentile=2.0, high_percentile=98.0)
    lr_n, hr_n = normalize_pair(lr, hr, spec)
    assert lr_n.dtype == hr_n.dtype == np.float32
    for normalised in (lr_n, hr_n):
        assert np.percentile(normalised, 2.0) == pytest.approx(0.0, abs=1e-5)
        assert np.percentile(normalised, 98.0) == pytest.approx(1.0, abs=1e-5)
    # the runtime's inverse with the INPUT's numbers: output * (hi - lo) + lo
    low, high = np.percentile(lr, [2.0, 98.0])
    np.testing.assert_allclose(lr_n * (high - low) + low, lr, rtol=1e-5)
    clipped = normalize_pair(lr, hr, NormalizationSpec(clip=True))
    assert all(image.min() == 0.0 and image.max() == 1.0 for image in clipped)
    flat, _ = normalize_pair(np.full((4, 4), 7.0, np.float32), hr, SPEC)
    assert np.all(flat == 0.0)


def _write_lr_hr(root: Path, names: list[str], scale: int, rng: np.random.Generator) -> None:
    for name in names:
        hr = rng.random((32 * scale, 32 * scale)).astype(np.float32) * 1000
        (root / "lr").mkdir(parents=True, exist_ok=True)
        (root / "hr").mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(root / "lr" / name, _bin(hr, scale).astype(np.float32))
        tifffile.imwrite(root / "hr" / name, hr)


def test_lr_hr_folders(tmp_path: Path, rng: np.random.Generator) -> None:
    _write_lr_hr(tmp_path, ["b.tif", "a.tif", "c.tiff"], 2, rng)
    (tmp_path / "gt").mkdir()  # ignored
    pairs = find_pairs(tmp_path)
    assert [pair.name for pair in pairs] == ["a.tif", "b.tif", "c.tiff"]
    lr, hr = read_pair(pairs[0], scale=2)
    np.testing.assert_allclose(_bin(hr, 2), lr, rtol=1e-5)
    with pytest.raises(ValueError, match=r"shape .* is not 1 x the shape"):
        read_pair(pairs[0], scale=1)
    write_tiff(tmp_path / "lr" / "b.tif", np.zeros((32, 32), np.float32), pixel_size_nm=100.0)
    with pytest.raises(ValueError, match=r"b\.tif: the file records 100 nm pixels, data\.pixel"):
        FolderPairs(pairs, 2, SPEC, pixel_size_nm=50.0)
    assert read_pair(pairs[1], 2, pixel_size_nm=99.5)[0].shape == (32, 32)
    source = FolderPairs(pairs, 2, SPEC)
    assert len(source) == 3
    assert source.pair(1, epoch=0)[0].shape == (32, 32)
    (tmp_path / "hr" / "b.tif").unlink()
    with pytest.raises(ValueError, match=r"lr/b\.tif: no HR file of the same name"):
        find_pairs(tmp_path)


def test_biosr_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    root = tmp_path / "Microtubules"
    for cell in ("Cell_001", "Cell_002", "Cell_003"):
        folder = root / cell
        folder.mkdir(parents=True)
        gt = rng.random((64, 64)).astype(np.float32)
        tifffile.imwrite(folder / "SIM_gt.tif", gt)
        for level in (1, 2):
            raw = np.stack([_bin(gt, 2)] * 9) + level  # nine raw SIM frames
            tifffile.imwrite(folder / f"RawSIMData_level_{level:02d}.tif", raw.astype(np.float32))
    pairs = find_pairs(root)
    assert len(pairs) == 6
    assert pairs[0].name == "Cell_001/RawSIMData_level_01.tif"
    assert {pair.group for pair in pairs} == {"Cell_001", "Cell_002", "Cell_003"}
    lr, hr = read_pair(pairs[1], scale=2)
    assert lr.shape == (32, 32)  # the nine frames averaged into one widefield image
    np.testing.assert_allclose(lr, _bin(hr, 2) + 2, rtol=1e-5)
    train, validation = split_groups(pairs, 0.34, seed=0)
    assert len(validation) == 2 and len(train) == 4
    assert {p.group for p in train}.isdisjoint({p.group for p in validation})
    assert split_groups(pairs, 0.34, seed=0) == (train, validation)
    (root / "Cell_002" / "RawSIMData_level_01.tif").unlink()
    (root / "Cell_002" / "RawSIMData_level_02.tif").unlink()
    with pytest.raises(ValueError, match="Cell_002: no low-resolution file"):
        find_pairs(root)
    with pytest.raises(ValueError, match="no per-cell folders"):
        find_pairs(tmp_path, layout="biosr", hr_pattern="nothing*.tif")


def test_simulated_pairs_are_deterministic_per_index_and_seed() -> None:
    physics = SimulationConfig()

    def make(seed: int, fresh: bool = True) -> SimulatedPairs:
        return SimulatedPairs(
            ["beads", "microtubules"], 32, physics, SPEC, seed=seed, count=4, fresh_each_epoch=fresh
        )

    a, b = make(1), make(1)
    lr, hr = a.pair(3, epoch=2)
    assert lr.shape == hr.shape == (32, 32)
    np.testing.assert_array_equal(lr, b.pair(3, epoch=2)[0])
    assert not np.array_equal(lr, a.pair(3, epoch=1)[0])  # fresh samples each epoch
    assert not np.array_equal(lr, make(2).pair(3, epoch=2)[0])
    fixed = make(1, fresh=False)
    np.testing.assert_array_equal(fixed.pair(0, 0)[0], fixed.pair(0, 5)[0])
    assert a.describe()["structures"] == ["beads", "microtubules"]


def test_batches_follow_seed_and_epoch(tmp_path: Path, rng: np.random.Generator) -> None:
    _write_lr_hr(tmp_path, [f"{i}.tif" for i in range(5)], 1, rng)
    source = FolderPairs(find_pairs(tmp_path), 1, SPEC)
    maker = BatchMaker(source, 16, 1, Augmentation(), seed=3)
    order = maker.epoch_order(epoch=0, steps=4, batch_size=3)  # 12 draws over 5 pairs
    assert len(order) == 4 and all(len(batch) == 3 for batch in order)
    again = BatchMaker(source, 16, 1, Augmentation(), seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(order, again.epoch_order(0, 4, 3), strict=True))
    lr, hr = maker.batch(order[0], epoch=0, step=0)
    assert tuple(lr.shape) == (3, 1, 16, 16) and tuple(hr.shape) == (3, 1, 16, 16)
    lr2, _ = again.batch(order[0], epoch=0, step=0)
    assert lr.equal(lr2)
    assert not lr.equal(maker.batch(order[0], epoch=1, step=0)[0])
    validation = maker.all_centre_crops(batch_size=2)
    assert [tuple(x.shape) for x, _ in validation] == [(2, 1, 16, 16)] * 2 + [(1, 1, 16, 16)]
