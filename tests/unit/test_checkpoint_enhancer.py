from pathlib import Path

import numpy as np
import pytest

from tcan_live.evaluate.enhancers import checkpoint_enhancer
from tcan_live.model import build_generator, save_checkpoint


@pytest.mark.parametrize(("scale", "trained_nm"), [(1, 50.0), (1, 100.0), (2, 50.0)])
def test_checkpoint_output_is_on_the_input_grid_times_scale(
    tmp_path: Path, scale: int, trained_nm: float
) -> None:
    generator = build_generator("small", scale=scale, unet_base=4, dfcan_features=8)
    path = save_checkpoint(tmp_path / "g.safetensors", generator, pixel_size_nm=trained_nm)
    enhance = checkpoint_enhancer(path)
    image = np.random.default_rng(0).poisson(20.0, (41, 36)).astype(np.float32)
    output, pixel = enhance(image, 50.0)
    assert output.shape == (41 * scale, 36 * scale)
    assert pixel == pytest.approx(50.0 / scale)
    assert np.isfinite(output).all()
