import numpy as np
import pytest

from tcan_live.engine.manifest import default_halo
from tcan_live.runtime.tiling import TileAssembler, TilePlan


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
