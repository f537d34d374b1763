"""The live widget's QC figures: readable at a glance, only what can be shown."""

from __future__ import annotations

from tcan_live.napari.live_layers import qc_figures


def test_figures_are_whole_from_a_thousand_and_three_digits_below() -> None:
    header = {"qc": {"latency_ms": 33104.7, "received": 12, "rms": 1.2549, "tiny": 0.000123}}
    assert qc_figures(header) == {
        "latency_ms": "33105",
        "received": "12",
        "rms": "1.25",
        "tiny": "0.000123",
    }


def test_flags_read_yes_or_no_and_lists_objects_and_empty_reasons_are_left_out() -> None:
    header = {"qc": {"flagged": False, "flag": "", "tiles": [1, 2], "where": {"x": 1}}}
    assert qc_figures(header) == {"flagged": "no"}
    flagged = {"qc": {"flagged": True, "flag": "z rms 3.2 > 2"}}
    assert qc_figures(flagged) == {"flagged": "yes", "flag": "z rms 3.2 > 2"}


def test_a_header_without_qc_figures_shows_none() -> None:
    assert qc_figures({}) == {}
    assert qc_figures({"qc": [1, 2]}) == {}
