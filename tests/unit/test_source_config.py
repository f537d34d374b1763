"""The [source] config section: each kind, and one-line errors naming the bad field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from tcan_live.core.settings import ConfigError
from tcan_live.sources.pycromanager_hook import PycromanagerSource
from tcan_live.sources.registry import make_source, parse_source_config
from tcan_live.sources.replay import ReplaySourceConfig
from tcan_live.sources.watch import WatchFolderSource, WatchSourceConfig

REPO = Path(__file__).resolve().parents[2]


def test_watch_section_parses_with_defaults(tmp_path: Path) -> None:
    config = parse_source_config({"kind": "watch", "root": str(tmp_path)})
    assert isinstance(config, WatchSourceConfig)
    assert config.recursive and not config.polling and not config.process_existing
    assert config.settle_s == 1.0
    with pytest.raises(ValueError, match="frozen"):
        config.root = Path("/")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"kind": "camera"}, "source.kind: expected kind to be one of pymmcore-plus, pycromanager"),
        ({"root": "/x"}, "source.kind: missing kind"),
        ({"kind": "watch"}, "source.root: Field required"),
        (
            {"kind": "watch", "root": "/x", "rooot": 1},
            "source.rooot: Extra inputs are not permitted",
        ),
        (
            {"kind": "watch", "root": "/x", "settle_s": -1},
            "source.settle_s: Input should be greater",
        ),
        (
            {"kind": "watch", "root": "/x", "pattern": "t(\\d+)"},
            "source.pattern: .*named group for an index",
        ),
        (
            {"kind": "watch", "root": "/x", "pattern": "(?P<t>"},
            "source.pattern: .*not a valid regular",
        ),
        (
            {"kind": "watch", "root": "/x", "pattern": "(?P<t>\\d)(?P<w>\\d)"},
            "unexpected named groups",
        ),
        ({"kind": "replay", "files": []}, "source.files: Tuple should have at least 1 item"),
        ({"kind": "replay", "files": ["a.tif"], "rate_hz": -2}, r"source.rate_hz: .*\(got -2\)"),
        (
            {"kind": "pymmcore-plus", "pixel_size_nm": 1e9},
            "source.pixel_size_nm: Input should be less",
        ),
    ],
)
def test_bad_sections_name_the_field(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_source_config(section)
    assert "\n" not in str(info.value)


def test_make_source_builds_each_kind(tmp_path: Path) -> None:
    watch = make_source(parse_source_config({"kind": "watch", "root": str(tmp_path)}))
    assert isinstance(watch, WatchFolderSource)
    replay = parse_source_config({"kind": "replay", "files": ["a.tif"], "rate_hz": 5})
    assert isinstance(replay, ReplaySourceConfig)
    make_source(replay)
    hook = make_source(parse_source_config({"kind": "pycromanager", "channel_names": ["a", "b"]}))
    assert isinstance(hook, PycromanagerSource)
    frame = hook.to_frame(np.zeros((2, 2), np.uint16), {"Axes": {"time": 4, "channel": 1}})
    assert frame.key[:2] == (4, "b")
    with pytest.raises(ConfigError, match="needs the pymmcore-plus core"):
        make_source(parse_source_config({"kind": "pymmcore-plus"}))


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        ("pymmcore-plus", "pymmcore-plus"),
        ("micromanager-gui", "pycromanager"),
        ("watch-folder", "watch"),
        ("replay", "replay"),
    ],
)
def test_shipped_example_configs_validate(file: str, kind: str) -> None:
    document = tomllib.loads((REPO / "config" / f"{file}.toml").read_text())
    config = parse_source_config(document["source"])
    assert config.kind == kind
