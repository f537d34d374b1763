"""``bench napari``'s summary of alternating runs: paired ratios, their spread, medians."""

from __future__ import annotations

import pytest

from tcan_live.napari.bench import summarise_turns


def test_turns_are_paired_and_their_mean_has_a_standard_error_and_lower_bound() -> None:
    speeds = {"without": [2.0, 1.0, 4.0], "with": [1.8, 1.0, 3.8]}
    report = summarise_turns(speeds, {})
    assert report["per_turn_ratios"] == pytest.approx([0.9, 1.0, 0.95])
    assert report["median_turn_ratio"] == pytest.approx(0.95)
    assert report["turn_ratio_mean"] == pytest.approx(0.95)
    assert report["turn_ratio_sem"] == pytest.approx(0.05 / 3**0.5)  # sample sd 0.05
    # Student's t, 2 degrees of freedom, one-sided 95 %: 2.919986
    assert report["turn_ratio_lower_95"] == pytest.approx(0.95 - 2.919986 * 0.05 / 3**0.5)
    assert report["with_over_without"] == pytest.approx(1.8 / 2.0)  # medians 1.8 and 2.0
    assert report["repeats"] == 3


def test_one_turn_has_no_spread() -> None:
    report = summarise_turns({"without": [2.0], "with": [1.5]}, {})
    assert report["turn_ratio_mean"] == report["median_turn_ratio"] == 0.75
    assert report["turn_ratio_sem"] is None and report["turn_ratio_lower_95"] is None


def test_measures_are_medians_per_mode_and_none_where_not_measured() -> None:
    shares: dict[str, dict[str, list[float | None]]] = {
        "viewer_cpu_share": {"without": [0.01, 0.03, 0.02], "with": [0.04, 0.05, 0.03]},
        "daemon_cpu_s_per_frame": {"without": [None, None, None], "with": [None, 1.2, 1.0]},
    }
    report = summarise_turns({"without": [1.0] * 3, "with": [1.0] * 3}, shares)
    assert report["viewer_cpu_share_without"] == 0.02
    assert report["viewer_cpu_share_with"] == 0.04
    assert report["daemon_cpu_s_per_frame_without"] is None
    assert report["daemon_cpu_s_per_frame_with"] == pytest.approx(1.1)


def test_runs_without_a_partner_are_refused() -> None:
    with pytest.raises(ValueError):
        summarise_turns({"without": [1.0, 1.0], "with": [1.0]}, {})
