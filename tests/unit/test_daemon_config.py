"""The daemon config: shipped examples validate; errors name the file and the dotted field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcan_live.core.settings import ConfigError
from tcan_live.daemon.config import ChannelConfig, channel_color, load_config
from tcan_live.sources.watch import WatchSourceConfig

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    path
    for path in (REPO / "config").rglob("*.toml")
    if not path.is_relative_to(REPO / "config" / "train")
)


def test_there_are_examples_for_every_kind() -> None:
    kinds = {load_config(path, check_engines=False).source.kind for path in EXAMPLES}
    assert kinds == {"pymmcore-plus", "pycromanager", "watch", "replay"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_shipped_configs_validate_with_paths_beside_the_file(path: Path) -> None:
    config = load_config(path, check_engines=False)
    for channel in config.channels.values():
        assert channel.engine.is_absolute() and channel.engine.parent == REPO / "engines"
    assert config.output.path.is_absolute()
    assert config.preview.address.startswith("tcp://127.0.0.1:")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(text)
    return path


GOOD = """
[source]
kind = "watch"
root = "data"
[channels.microtubules]
engine = "engines/mt"
[output]
path = "out.zarr"
"""


def _problems(path: Path, check_engines: bool = False) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_engines=check_engines)
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    return [line.removeprefix(f"{path}: ") for line in lines]


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), check_engines=False)
    assert isinstance(config.source, WatchSourceConfig) and config.source.root == tmp_path / "data"
    assert config.channels["microtubules"].engine == tmp_path / "engines" / "mt"
    assert config.output.path == tmp_path / "out.zarr"
    assert config.performance.max_frames_in_memory == 32


def test_each_bad_field_gets_its_own_line(tmp_path: Path) -> None:
    text = GOOD.replace('root = "data"', 'root = "data"\nsettle_s = -1\nrooot = 1')
    text += '[channels.actin]\nengine = "e"\ncolor = "pink"\n[performance]\nbatch_frames = 0\n'
    problems = _problems(_write(tmp_path, text))
    assert "source.settle_s: Input should be greater than or equal to 0 (got -1)" in problems
    assert "source.rooot: Extra inputs are not permitted" in problems
    assert any(p.startswith("channels.actin.color: 'pink' is not a colour") for p in problems)
    assert any(p.startswith("performance.batch_frames: Input should be greater") for p in problems)
    assert len(problems) == 4


def test_missing_sections_kinds_and_engines(tmp_path: Path) -> None:
    assert _problems(_write(tmp_path, '[source]\nkind = "ftp"\n')) == [
        "source.kind: expected kind to be one of pymmcore-plus, pycromanager, watch, replay "
        "(got 'ftp')",
        "channels: Field required",
        "output: Field required",
    ]
    assert _problems(_write(tmp_path, GOOD + "[extra]\n")) == [
        "extra: Extra inputs are not permitted"
    ]
    assert _problems(_write(tmp_path, GOOD), check_engines=True) == [
        "channels.microtubules.engine: no engine folder at engines/mt"
    ]
    assert _problems(_write(tmp_path, "[source\n"))[0].startswith("not valid TOML: ")
    assert _problems(tmp_path / "none.toml") == [
        "cannot read the config file (No such file or directory)"
    ]


def test_channel_colours_come_from_the_shared_defaults() -> None:
    config = ChannelConfig(engine=Path("e"))
    assert channel_color("Tubulin-488", config, 1) == "FF00FF"
    assert channel_color("LifeAct", config, 0) == "00FFFF"
    assert channel_color("DAPI", config, 2) == "FFFF00"
    assert channel_color("actin", ChannelConfig(engine=Path("e"), color="ff8000"), 0) == "FF8000"
