"""The live display pacing: the rate cap where drawing is cheap, the CPU budget where not."""

from __future__ import annotations

import pytest

from tcan_live.napari.receiver import MIN_RATE_HZ, display_interval


def test_cheap_cycles_run_at_the_rate_cap() -> None:
    # 2 ms of CPU per cycle, budget 3 % of 8 CPUs (0.24 CPU s per s): the 5 Hz cap binds.
    assert display_interval(0.002, 0.03, 8, 5.0) == pytest.approx(0.2)


def test_expensive_cycles_are_spaced_to_keep_within_the_budget() -> None:
    # 60 ms per cycle on 2 CPUs at 3 %: 0.06 CPU s per s allows one cycle a second.
    assert display_interval(0.06, 0.03, 2, 5.0) == pytest.approx(1.0)


def test_the_display_never_waits_longer_than_the_floor() -> None:
    assert display_interval(10.0, 0.03, 2, 5.0) == pytest.approx(1 / MIN_RATE_HZ)
    # A cap slower than the floor is the user's choice and is kept.
    assert display_interval(10.0, 0.03, 2, 0.25) == pytest.approx(4.0)


def test_a_zero_budget_is_the_floor_not_a_division_by_zero() -> None:
    assert display_interval(0.01, 0.0, 2, 5.0) == pytest.approx(1 / MIN_RATE_HZ)


def test_the_wait_converges_to_draw_over_budget_less_idle() -> None:
    # Each cycle costs a 40 ms draw plus 1 % of a CPU while waiting; budget 3 % of 2 CPUs.
    draw, idle, budget, cpus = 0.04, 0.01, 0.03, 2
    wait = 0.2
    for _ in range(60):  # the receiver's half-way steps
        wait = (wait + display_interval(draw + idle * wait, budget, cpus, 5.0)) / 2
    assert wait == pytest.approx(draw / (budget * cpus - idle), rel=1e-3)
    assert (draw + idle * wait) / wait == pytest.approx(budget * cpus, rel=1e-3)
