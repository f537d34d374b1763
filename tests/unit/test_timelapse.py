import numpy as np
import pytest

from tcan_live.simulate.timelapse import Dynamics, simulate_timelapse


def test_dual_colour_timelapse_shapes_drift_and_bleaching() -> None:
    dynamics = Dynamics(bleach_per_frame=0.05, drift_nm_per_frame=20.0, drift_jitter_nm=0.0)
    movie = simulate_timelapse(
        ("microtubules", "actin"),
        frames=4,
        size=48,
        rng=np.random.default_rng(1),
        dynamics=dynamics,
    )
    assert movie.lr.shape == movie.hr.shape == movie.gt.shape == (4, 2, 48, 48)
    assert movie.channels == ("microtubules", "actin") and movie.pixel_size_nm == 50.0
    steps = np.linalg.norm(np.diff(movie.drift_nm, axis=0), axis=1)
    np.testing.assert_allclose(steps, 20.0)
    # Photobleaching: total signal above background falls frame by frame in both channels.
    signal = (movie.gt - 1.0).sum(axis=(2, 3))
    assert np.all(signal[-1] < signal[0])


def test_timelapse_is_deterministic_and_filaments_change() -> None:
    a = simulate_timelapse(("microtubules",), frames=3, size=32, rng=np.random.default_rng(2))
    b = simulate_timelapse(("microtubules",), frames=3, size=32, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a.lr, b.lr)
    assert not np.allclose(a.gt[0], a.gt[2])
    with pytest.raises(ValueError, match="at least one frame"):
        simulate_timelapse((), frames=1)
