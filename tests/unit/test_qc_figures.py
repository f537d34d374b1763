"""The live widget's QC figures: readable at a glance, only what can be shown, never stale."""

from __future__ import annotations

from tcan_live.napari.live_layers import figures_lines, qc_figures


def test_figures_are_whole_from_a_thousand_and_three_digits_below() -> None:
    header = {"qc": {"latency_ms": 33104.7, "received": 12, "rms": 1.2549, "tiny": 0.000123}}
    assert qc_figures(header) == {
        "latency_ms": "33105",
        "received": "12",
        "rms": "1.25",
        "tiny": "0.000123",
    }


def test_figures_that_round_to_a_thousand_print_whole_and_odd_values_print_as_such() -> None:
    header = {"qc": {"a": 999.6, "b": -999.7, "c": 999.4, "d": float("nan"), "e": float("inf")}}
    assert qc_figures(header) == {"a": "1000", "b": "-1000", "c": "999", "d": "nan", "e": "inf"}


def test_flags_read_yes_or_no_and_lists_and_objects_are_left_out() -> None:
    header = {"qc": {"flagged": False, "flag": "", "tiles": [1, 2], "where": {"x": 1}}}
    assert qc_figures(header) == {"flagged": "no", "flag": ""}
    assert qc_figures({}) == {} and qc_figures({"qc": [1, 2]}) == {}


def test_a_clean_frame_after_a_flagged_one_leaves_no_stale_reason() -> None:
    """The widget merges each frame's figures into the channel's; the text shows the latest."""
    latest: dict[str, dict[str, str]] = {"microtubules": {}}
    latest["microtubules"].update(qc_figures({"qc": {"flagged": True, "flag": "z rms 3.2 > 2"}}))
    assert figures_lines(latest) == "microtubules: flag z rms 3.2 > 2, flagged yes"
    latest["microtubules"].update(qc_figures({"qc": {"flagged": False, "flag": ""}}))
    assert figures_lines(latest) == "microtubules: flagged no"
