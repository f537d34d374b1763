"""Learning-rate schedules: pure functions of the step."""

from __future__ import annotations

import itertools
import math

import pytest

from tcan_live_training.schedule import learning_rate_factor


def test_constant_is_one_everywhere() -> None:
    assert {learning_rate_factor("constant", step, 10, 0.01) for step in range(12)} == {1.0}


def test_cosine_falls_from_one_to_the_floor() -> None:
    factors = [learning_rate_factor("cosine", step, 101, 0.02) for step in range(101)]
    assert factors[0] == 1.0
    assert factors[50] == pytest.approx(0.51)
    assert factors[-1] == pytest.approx(0.02)
    assert all(a > b for a, b in itertools.pairwise(factors))
    assert learning_rate_factor("cosine", 500, 101, 0.02) == pytest.approx(0.02)
    assert math.isclose(learning_rate_factor("cosine", 0, 1, 0.02), 1.0)
