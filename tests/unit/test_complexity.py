import pytest

from tcan_live.model.complexity import flops_per_input_pixel, flops_per_pixel_at
from tcan_live.model.config import generator_config


@pytest.mark.parametrize("tile", [96, 160])
def test_flops_at_a_tile_match_a_full_count(tile: int) -> None:
    config = generator_config("small")
    exact = flops_per_input_pixel(config, tile)
    # Not exact: per pixel, the dense layers on pooled features shrink with the tile.
    assert flops_per_pixel_at(config, tile) == pytest.approx(exact, rel=1e-5)
