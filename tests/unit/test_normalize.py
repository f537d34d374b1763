import numpy as np
import pytest

from tcan_live.metrics.intensity import IntensityRange, percentile_range
from tcan_live.model import NormalizationSpec
from tcan_live.runtime.normalize import NormalizationMode, Normalizer

SPEC = NormalizationSpec(low_percentile=1.0, high_percentile=99.8)


def test_range_round_trip() -> None:
    intensity = IntensityRange(100.0, 1100.0)
    image = np.array([[100.0, 600.0, 1100.0]], dtype=np.float32)
    normalised = intensity.normalize(image)
    np.testing.assert_allclose(normalised, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(intensity.denormalize(normalised), image)


def test_flat_frame_does_not_divide_by_zero() -> None:
    flat = np.full((16, 16), 7.0, dtype=np.float32)
    normalised = percentile_range(flat, SPEC).normalize(flat)
    assert np.isfinite(normalised).all() and np.all(normalised == 0)


def test_per_frame_uses_each_frames_percentiles(rng: np.random.Generator) -> None:
    normalizer = Normalizer(SPEC, "per-frame")
    for gain in (1.0, 3.0):
        frame = rng.gamma(2.0, 100.0 * gain, size=(64, 64))
        assert normalizer.range_for(frame) == percentile_range(frame, SPEC)


def test_fixed_given_and_from_first_frames(rng: np.random.Generator) -> None:
    given = Normalizer(SPEC, "fixed", fixed_range=(10.0, 20.0))
    assert given.range_for(rng.random((8, 8))) == IntensityRange(10.0, 20.0)
    learned = Normalizer(SPEC, "fixed", fixed_frames=3)
    frames = [rng.gamma(2.0, 100.0 * (1 + i), size=(32, 32)) for i in range(6)]
    ranges = [learned.range_for(frame) for frame in frames]
    expected_high = np.mean([percentile_range(f, SPEC).high for f in frames[:3]])
    assert ranges[2].high == pytest.approx(expected_high)
    assert ranges[3] == ranges[4] == ranges[5] == ranges[2]


def _bleaching_timelapse(frames: int = 40) -> list[np.ndarray]:
    # Sparse bright spots moving at random (so the high percentile of each frame is noisy),
    # bleaching by 50 % exponentially over the series, Poisson noise on a dim background.
    rng = np.random.default_rng(7)
    series = []
    for t in range(frames):
        brightness = 400.0 * 0.5 ** (t / (frames - 1))
        expected = np.full((64, 64), 5.0)
        ys, xs = rng.integers(0, 64, size=(2, 12))
        expected[ys, xs] += brightness * rng.uniform(0.5, 1.5, size=12)
        series.append(rng.poisson(expected).astype(np.float32))
    return series


def _roughness(trace: np.ndarray) -> float:
    # Residual of the log trace about a straight line (pure exponential bleaching).
    logs = np.log(trace)
    t = np.arange(len(trace))
    fit = np.polyval(np.polyfit(t, logs, 1), t)
    return float(np.std(logs - fit))


def test_running_mode_smooths_a_bleaching_timelapse() -> None:
    series = _bleaching_timelapse()
    traces = {}
    for mode in ("per-frame", "running"):
        normalizer = Normalizer(SPEC, mode, running_frames=5.0)
        traces[mode] = np.array([normalizer.range_for(frame).high for frame in series])
    per_frame, running = _roughness(traces["per-frame"]), _roughness(traces["running"])
    assert running < 0.5 * per_frame
    # Still follows the bleaching: the fitted decay over the series is about 50 %.
    slope = np.polyfit(np.arange(len(series)), np.log(traces["running"]), 1)[0]
    assert 0.35 < 1 - np.exp(slope * (len(series) - 1)) < 0.65


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="normalization mode 'sometimes'"):
        Normalizer(SPEC, "sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="running_frames"):
        Normalizer(SPEC, "running", running_frames=0.5)


@pytest.mark.parametrize("mode", ["per-frame", "fixed", "running"])
def test_measured_elsewhere_then_followed_equals_the_stream(
    mode: NormalizationMode, rng: np.random.Generator
) -> None:
    # tcan-live batch measures frames on workers and follows the ranges in order on the client.
    frames = [rng.gamma(2.0, 100.0 * (1 + 0.3 * i), size=(24, 24)) for i in range(8)]
    stream = Normalizer(SPEC, mode, fixed_frames=3, running_frames=4.0)
    expected = [stream.range_for(frame) for frame in frames]
    measured = [Normalizer(SPEC, mode).measure(frame) for frame in reversed(frames)][::-1]
    following = Normalizer(SPEC, mode, fixed_frames=3, running_frames=4.0)
    assert [following.follow(own) for own in measured] == expected
