import numpy as np
import pytest

from tcan_live.engine.manifest import default_halo
from tcan_live.runtime.tiling import TileAssembler, TilePlan, choose_tile


def _assemble(image: np.ndarray, tile: int, halo: int, scale: int) -> np.ndarray:
    plan = TilePlan.for_frame(image.shape, tile, halo, scale)
    assembler = TileAssembler(plan)
    for crop in plan.tiles(image):
        assert crop.shape == (tile, tile)
        assembler.add(np.kron(crop, np.ones((scale, scale), dtype=np.float32)))
    return assembler.result()


@pytest.mark.parametrize("shape", [(32, 32), (100, 37), (301, 517), (64, 64), (7, 200)])
@pytest.mark.parametrize("scale", [1, 2])
def test_identity_network_reconstructs_the_frame_exactly(
    shape: tuple[int, int], scale: int, rng: np.random.Generator
) -> None:
    image = rng.random(shape, dtype=np.float32)
    out = _assemble(image, tile=64, halo=8, scale=scale)
    expected = np.kron(image, np.ones((scale, scale), dtype=np.float32))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_tiles_overlap_by_twice_the_halo_and_cover_the_frame() -> None:
    plan = TilePlan.for_frame((300, 130), tile=64, halo=8, scale=1)
    step = 64 - 16
    assert plan.starts_y == tuple(range(0, 300, step))
    assert plan.starts_y[-1] + 64 - 8 >= 300  # last tile's core reaches past the frame
    assert plan.count == len(plan.starts_y) * len(plan.starts_x)


def test_halo_must_leave_a_core() -> None:
    with pytest.raises(ValueError, match="halo 32 too large for tile 64"):
        TilePlan.for_frame((100, 100), tile=64, halo=32, scale=1)


def test_default_halo() -> None:
    assert default_halo(256) == 32
    assert default_halo(32) == 8


@pytest.mark.parametrize(
    ("size", "tile", "overhead"),
    [(512, 320, 1.5625), (1024, 320, 1.5625), (512, 576, 1.265625), (1024, 576, 1.265625)],
)
def test_halo_overhead_is_pixels_computed_per_frame_pixel(
    size: int, tile: int, overhead: float
) -> None:
    plan = TilePlan.for_frame((size, size), tile, 32, 1)
    assert plan.overhead == pytest.approx(overhead)
    assert plan.computed_pixels == plan.count * tile * tile


def test_the_tile_with_the_fewest_computed_pixels_is_chosen() -> None:
    # Halo 32: a 512 frame fits one 576 tile (1.27x) where 320 tiles need four (1.56x).
    assert choose_tile((512, 512), (320, 576), 32) == 576
    assert choose_tile((1024, 1024), (320, 576), 32) == 576
    assert choose_tile((256, 256), (320, 576), 32) == 320
    # Ties go to the smaller tile; tiles without an interior are never chosen.
    assert choose_tile((56, 56), (32, 64), 8) == 32
    assert choose_tile((512, 512), (48, 320), 32) == 320
    with pytest.raises(ValueError, match="too large"):
        choose_tile((64, 64), (48,), 32)


def test_a_tile_that_costs_more_per_pixel_can_lose_despite_less_overhead() -> None:
    # 512 px frame: one 576 tile computes 331,776 pixels, four 320 tiles 409,600.
    assert choose_tile((512, 512), (320, 576), 32, {320: 1.0, 576: 1.2}) == 576
    # The small preset's FLOPs per pixel at 320 and 576 with an unfactored DFT spectrum, whose
    # cost grows with the tile side.
    assert choose_tile((512, 512), (320, 576), 32, {320: 500_705.0, 576: 795_616.0}) == 320
