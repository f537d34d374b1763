"""A source kind and an engine backend defined here, in the test suite, run through the daemon.

Adding either is one module and one registry entry: nothing in the library is edited. The
source kind reads ``.npy`` files (a camera SDK's dump, say); the backend runs a PT2 archive
(``torch.export``), a format the library does not ship.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch
import zarr
from typer.testing import CliRunner

from tcan_live.cli.main import app
from tcan_live.core.acquisition import Frame
from tcan_live.core.frame_check import checked_or_marked
from tcan_live.core.registry import Registry
from tcan_live.core.settings import ConfigPath
from tcan_live.core.tiff_files import write_tiff
from tcan_live.engine import load_engine
from tcan_live.engine import registry as backend_registry
from tcan_live.engine.backend_kind import BackendKind, BuildInputs
from tcan_live.engine.batch import checked_batch
from tcan_live.engine.manifest import EngineManifest
from tcan_live.sources import registry as source_registry
from tcan_live.sources.kind import SourceContext, SourceKind, SourceSettings
from tcan_live.sources.protocol import FrameCallback
from tests.helpers.daemon import journal_counts
from tests.synthetic import filament_image, tiny_checkpoint

runner = CliRunner()
SHAPE = (40, 40)


# -- a source kind: numbered .npy files in a folder ----------------------------------------------


class NpyFolderConfig(SourceSettings):
    kind: Literal["npy-folder"]
    folder: ConfigPath
    channel: str


class NpyFolderSource:
    def __init__(self, config: NpyFolderConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, emit: FrameCallback) -> None:
        self._thread = threading.Thread(target=self._deliver, args=(emit,))
        self._thread.start()

    def _deliver(self, emit: FrameCallback) -> None:
        for t, path in enumerate(sorted(self.config.folder.glob("*.npy"))):
            frame = Frame(
                np.load(path), t, self.config.channel, self.config.pixel_size_nm, 0.0, str(path)
            )
            if frame.key not in self.context.skip_keys:
                emit(checked_or_marked(frame, "source.pixel_size_nm"))
        self.done.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join()

    @property
    def finished(self) -> bool:
        return self.done.is_set()


NPY_FOLDER = SourceKind("npy-folder", NpyFolderConfig, NpyFolderSource, finite=True)


@pytest.fixture
def npy_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fresh = Registry("source kind", source_registry.BUILTIN_KINDS)
    monkeypatch.setattr(source_registry, "SOURCES", fresh)
    source_registry.register_source_kind(NPY_FOLDER)
    yield


def test_a_source_kind_from_outside_the_library_runs_through_the_daemon(
    npy_kind: None, tiny_engines: Path, tmp_path: Path
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    images = [
        (filament_image(SHAPE, 50.0, seed=t) * 3000 + 100).astype(np.uint16) for t in range(4)
    ]
    for t, image in enumerate(images):
        np.save(frames / f"frame{t:02d}.npy", image)
    config = tmp_path / "npy.toml"
    config.write_text(
        '[source]\nkind = "npy-folder"\nfolder = "frames"\nchannel = "microtubules"\n'
        "pixel_size_nm = 50.0\n"
        f'[channels.microtubules]\nengine = "{tiny_engines / "microtubules-small"}"\n'
        '[output]\npath = "out.zarr"\nfsync = false\n[preview]\nenabled = false\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config), "--no-dashboard"])
    assert result.exit_code == 0, result.output
    store = tmp_path / "out.zarr"
    assert journal_counts(store, "sr") == {(t, "microtubules"): 1 for t in range(4)}
    raw = zarr.open_array(store / "raw" / "0" / "0", mode="r")
    sr = zarr.open_array(store / "sr" / "0" / "0", mode="r")
    assert raw.shape == (4, 1, 1, *SHAPE) and sr.shape == (4, 1, 1, *SHAPE)
    for t, image in enumerate(images):
        np.testing.assert_array_equal(raw[t, 0, 0], image)
        assert float(np.asarray(sr[t, 0]).std()) > 0
    # Its own fields are checked by name, like any built-in kind's.
    config.write_text(config.read_text().replace('channel = "microtubules"', 'chanel = "x"'))
    result = runner.invoke(app, ["run", "--config", str(config), "--no-dashboard"])
    assert result.exit_code == 2
    assert "source.chanel: Extra inputs are not permitted" in result.output
    assert "source.channel: Field required" in result.output


# -- a backend: a torch.export (PT2) archive -----------------------------------------------------


class ExportedProgramBackend:
    # threads: torch's process-wide pool is left as the test session set it.
    def __init__(self, archive: bytes, manifest: EngineManifest, threads: int | None) -> None:
        self.tile: int = manifest.tile
        self.scale: int = manifest.scale
        self.max_batch: int = manifest.max_batch
        self._module = torch.export.load(io.BytesIO(archive)).module()

    def run(self, tiles: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(checked_batch(tiles, self.tile, self.max_batch))
        with torch.inference_mode():
            return self._module(batch).numpy()

    def close(self) -> None:
        pass


def _archive(inputs: BuildInputs) -> bytes:
    example = torch.rand(2, 1, inputs.tile, inputs.tile)
    batch = torch.export.Dim("batch", min=1, max=inputs.max_batch)
    program = torch.export.export(inputs.generator.eval(), (example,), dynamic_shapes=({0: batch},))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The spectrum's DFT matrices are shared between blocks; the archive stores them once.
        warnings.filterwarnings("ignore", message="No complete tensor found", category=UserWarning)
        torch.export.save(program, buffer)
    return buffer.getvalue()


TORCH_EXPORT = BackendKind(
    name="torch-export",
    engine_file="model.pt2",
    precisions=("fp32",),
    open=ExportedProgramBackend,
    library="torch",
    engine_bytes=_archive,
)


@pytest.fixture
def export_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fresh = Registry("backend", backend_registry.BUILTIN_BACKENDS)
    monkeypatch.setattr(backend_registry, "BACKENDS", fresh)
    backend_registry.register_backend(TORCH_EXPORT)
    yield


def test_a_backend_from_outside_the_library_builds_loads_and_runs_in_the_daemon(
    export_backend: None, tmp_path: Path
) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    engines = {}
    for backend in ("torch-export", "onnxruntime"):
        engines[backend] = tmp_path / backend
        command = ["build-engine", str(checkpoint), "--backend", backend, "--tile", "32"]
        result = runner.invoke(app, [*command, "--out", str(engines[backend])])
        assert result.exit_code == 0, result.output
    assert (engines["torch-export"] / "model.pt2").is_file()
    engine = load_engine(engines["torch-export"])  # hash-verified like any engine
    assert engine.manifest["backend"] == "torch-export"
    parity = engine.manifest["parity"]
    assert parity["max_rel_error"] <= parity["tolerance"]
    engine.close()

    folder = tmp_path / "acquisition"
    images = [
        (filament_image(SHAPE, 50.0, seed=t) * 3000 + 100).astype(np.uint16) for t in range(3)
    ]
    for t, image in enumerate(images):
        write_tiff(folder / f"t{t}.tif", image, 50.0)
    outputs = {}
    for backend, engine_dir in engines.items():
        out = tmp_path / f"{backend}.zarr"
        command = ["watch", str(folder), "--out", str(out), "--engine", str(engine_dir)]
        result = runner.invoke(app, [*command, "--once", "--no-dashboard"])
        assert result.exit_code == 0, result.output
        outputs[backend] = np.asarray(zarr.open_array(out / "sr" / "0" / "0", mode="r"))
    assert outputs["torch-export"].shape == (3, 1, 1, *SHAPE)
    value_range = float(np.ptp(outputs["onnxruntime"]))
    difference = np.abs(outputs["torch-export"] - outputs["onnxruntime"]).max()
    assert difference <= 1e-3 * value_range
