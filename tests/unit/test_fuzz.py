"""Property-based fuzzing of the file readers and the config loader (bounded, deterministic).

Whatever bytes a file holds and whatever a config says, the readers either return frames or
raise the errors the watcher handles (incomplete: try later; rejected: report), and the
loader either returns a config or raises ``ConfigError``; never anything else, never a hang.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.settings import ConfigError
from tcan_live.daemon.config import parse_config
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.files.mmstack import MMStackReader
from tcan_live.sources.files.ndtiff_dataset import parse_index
from tcan_live.sources.files.single_tiff import read_tiff_planes
from tests.helpers.mm_files import MMStackWriter

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
READ_ERRORS = (IncompleteFileError, FrameRejected)


def _valid_tiff() -> bytes:
    buffer = io.BytesIO()
    image = np.arange(16 * 12, dtype=np.uint16).reshape(16, 12) + 100
    tifffile.imwrite(buffer, image, resolution=(1e4, 1e4), resolutionunit="CENTIMETER")
    return buffer.getvalue()


TIFF = _valid_tiff()


def _mmstack() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run_MMStack_Pos0.ome.tif"
        writer = MMStackWriter(path, (8, 8), ["DAPI"], frames=2, pixel_size_um=0.1)
        for t in range(2):
            image = np.full((8, 8), 100 + t, np.uint16)
            writer.write(writer.parts(image, t, 0, {"ElapsedTime-ms": t, "Channel": "DAPI"}))
        writer.finish()
        return path.read_bytes()


MMSTACK = _mmstack()


def _mutations(original: bytes) -> st.SearchStrategy[bytes]:
    """The original cut anywhere, or with a few bytes overwritten anywhere."""
    cut = st.integers(0, len(original)).map(lambda n: original[:n])
    edits = st.lists(
        st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), min_size=1, max_size=8
    )

    def apply(changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(original)
        for at, value in changes:
            data[at] = value
        return bytes(data)

    return st.one_of(cut, edits.map(apply), st.binary(max_size=512))


@FUZZ
@given(_mutations(TIFF))
def test_single_tiff_reader_returns_a_frame_or_a_handled_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t0.tif"
        path.write_bytes(data)
        try:
            frames = read_tiff_planes(path)
        except READ_ERRORS:
            return
        assert frames and all(
            isinstance(frame, FileFrame) and frame.image.ndim == 2 for frame in frames
        )


@FUZZ
@given(_mutations(MMSTACK))
def test_mmstack_reader_returns_frames_or_a_handled_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run_MMStack_Pos0.ome.tif"
        path.write_bytes(data)
        reader = MMStackReader(path)
        try:
            results = reader.poll()
        except READ_ERRORS:
            return
        for result in results:
            assert isinstance(result, FileFrame | FrameRejected)


@FUZZ
@given(st.binary(max_size=400))
def test_ndtiff_index_parser_returns_entries_or_rejects(data: bytes) -> None:
    try:
        entries, consumed = parse_index(data)
    except FrameRejected:
        return
    assert 0 <= consumed <= len(data)
    assert all(isinstance(entry.axes, dict) for entry in entries)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = {
    "source": ["kind", "root", "files", "pattern", "pixel_size_nm", "settle_s", "channels"],
    "output": ["path", "include_raw", "fsync", "time_increment_s"],
    "preview": ["enabled", "address", "max_fps", "max_size"],
    "performance": ["max_frames_in_memory", "batch_frames", "qc_every"],
}


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for section, fields in _FIELDS.items():
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
            document[section] = {name: draw(_VALUES) for name in chosen}
            if section == "source" and draw(st.booleans()):
                document[section]["kind"] = draw(st.sampled_from(["watch", "replay", "x"]))
    if draw(st.booleans()):
        document["channels"] = draw(
            st.dictionaries(st.text(max_size=6), st.dictionaries(st.text(max_size=6), _VALUES))
        )
    if draw(st.booleans()):
        document[draw(st.text(max_size=6))] = draw(_VALUES)
    return document


@FUZZ
@given(_documents())
def test_config_loader_returns_a_config_or_names_the_problems(document: dict[str, Any]) -> None:
    json.dumps(document, default=str)  # a document TOML could carry (after coercion)
    try:
        parse_config(document, base_dir=Path("/tmp"), origin="fuzz", check_engines=False)
    except ConfigError as error:
        assert error.problems and all(problem.strip() for problem in error.problems)
