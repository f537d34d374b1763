"""The noise floor of the normalisation: pure noise keeps its small amplitude (issue 12)."""

import numpy as np
import pytest

from tcan_live.metrics.intensity import percentile_range
from tcan_live.model import NormalizationSpec
from tcan_live.runtime.normalize import Normalizer


def _noise(rng: np.random.Generator, background: float, size: int = 64) -> np.ndarray:
    return (100.0 + rng.poisson(background, (size, size))).astype(np.float32)


def test_without_a_floor_the_range_is_the_percentiles(rng: np.random.Generator) -> None:
    frame = _noise(rng, 20.0)
    low, high = np.percentile(frame, [1.0, 99.8])
    span = percentile_range(frame, NormalizationSpec())
    assert span.low == pytest.approx(low) and span.high == pytest.approx(high)


@pytest.mark.parametrize("background", [3.0, 20.0, 200.0])
def test_a_floor_shrinks_pure_noise_to_a_fraction_of_the_range(
    background: float, rng: np.random.Generator
) -> None:
    frame = _noise(rng, background)
    plain = percentile_range(frame, NormalizationSpec()).normalize(frame)
    floored = percentile_range(frame, NormalizationSpec(noise_floor=20.0)).normalize(frame)
    # Stretched to [0, 1] without the floor; a twentieth of a sigma per unit with it.
    assert np.ptp(plain) > 0.9
    assert np.std(floored) == pytest.approx(1.0 / 20.0, rel=0.15)


def test_a_floor_leaves_a_bright_frame_alone(rng: np.random.Generator) -> None:
    frame = _noise(rng, 2.0)
    frame[20:30, 20:30] += 1000.0
    spec = NormalizationSpec(noise_floor=20.0)
    span, plain = percentile_range(frame, spec), percentile_range(frame, NormalizationSpec())
    assert (span.low, span.high) == (plain.low, plain.high)


def test_every_stream_mode_uses_the_floor(rng: np.random.Generator) -> None:
    spec = NormalizationSpec(noise_floor=20.0)
    frames = [_noise(rng, 20.0) for _ in range(3)]
    for mode in ("per-frame", "fixed", "running"):
        normalizer = Normalizer(spec, mode, fixed_frames=2)
        spreads = [normalizer.range_for(frame).spread for frame in frames]
        # 20 sigma of Poisson(20), not the ~5 sigma between the percentiles
        assert min(spreads) > 15 * np.sqrt(20.0), mode


def test_old_manifests_load_with_the_floor_off() -> None:
    spec = NormalizationSpec.model_validate({"low_percentile": 1.0, "high_percentile": 99.8})
    assert spec.noise_floor == 0.0
