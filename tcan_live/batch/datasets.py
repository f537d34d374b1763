"""Recorded datasets as ``tcan-live batch`` reads them: planned whole, read frame by frame.

A dataset is planned once on the client from its metadata alone (OME-Zarr attributes, the
NDTiff index, the MMStack index map, TIFF headers or file names): one :class:`FrameRef` per
frame, small enough to send to a worker. A worker reads one frame by its reference with the
readers the daemon uses (:mod:`tcan_live.sources.files`), touching only that frame's own
chunk, pages or bytes, and maps and checks it with the daemon's
:class:`~tcan_live.sources.files.mapping.FrameMapper`.

Kinds (:func:`open_dataset` tells them apart):

* ``ome-zarr``: an NGFF image (0.4 or 0.5; axes t, c, z, y, x, any but y, x optional), or a
  tcan-live store, whose ``raw`` images (one per position and tile) are read; frames whose chunk
  was never written are left out;
* ``ndtiff``: an NDTiff dataset folder (pycromanager, Micro-Magellan);
* ``mmstack``: a Micro-Manager MMStack file, or a folder of them (rolled-over files);
* ``tiff-folder``: a folder of single-frame TIFFs; ``pattern`` names t and channel from the
  file names, otherwise the files, sorted by name, are the time points of one channel;
* ``tiff-stack``: one multi-plane TIFF / OME-TIFF, its planes the time points of one channel
  (the planes ``tcan-live infer`` reads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import zarr
from zarr.storage import LocalStore

from tcan_live.core.acquisition import Frame, FrameKey, Position
from tcan_live.core.frame_check import FrameRejected
from tcan_live.core.tiff_files import read_tiff_plane, tiff_files_in, tiff_stack_planes
from tcan_live.sinks.store_layout import RAW_GROUP, image_path, stored_images, stored_layout
from tcan_live.sources.files.file_frame import FileFrame, IncompleteFileError
from tcan_live.sources.files.mapping import FrameMapper
from tcan_live.sources.files.mmstack import MMStackEntry, MMStackReader, is_mmstack_name
from tcan_live.sources.files.ndtiff_dataset import INDEX_NAME, IndexEntry, NDTiffReader
from tcan_live.sources.files.single_tiff import read_tiff_planes

DatasetKind = Literal["ome-zarr", "ndtiff", "mmstack", "tiff-folder", "tiff-stack"]
_NGFF_AXES = ("t", "c", "z", "y", "x")
_UNIT_NM = {"nanometer": 1.0, "micrometer": 1e3, "millimeter": 1e6, "meter": 1e9}
_UNIT_S = {"millisecond": 1e-3, "second": 1.0, "minute": 60.0, "hour": 3600.0}


class DatasetError(ValueError):
    """A dataset that cannot be planned; the message names the path and what was expected."""


@dataclass(frozen=True)
class FrameRef:
    """Where one planned frame is: its (t, channel), the file it is read from, and its place.

    Attributes
    ----------
    key
        (t, channel) after mapping: the frame's place in the output store.
    source
        The file or dataset folder the frame is read from (also its origin).
    locator
        What the dataset's reader needs to find the frame (an index entry, a plane number ...).
    """

    key: FrameKey
    source: Path
    locator: Any


@dataclass(frozen=True)
class DatasetPlan:
    """Every frame of a dataset, in acquisition order, and what its metadata says about time."""

    frames: tuple[FrameRef, ...]
    channels: tuple[str, ...]
    time_increment_s: float | None = None
    left_out: int = 0
    """Frames the dataset has room for but never held (unwritten chunks of a store)."""


class Dataset(Protocol):
    """A recorded dataset: planned on the client, read frame by frame on the workers."""

    @property
    def kind(self) -> DatasetKind:
        """Which kind of dataset it is."""
        ...

    @property
    def path(self) -> Path:
        """The dataset's file or folder."""
        ...

    def plan(self, mapper: FrameMapper) -> DatasetPlan:
        """List every frame (metadata only), keyed as ``mapper`` keys them."""
        ...

    def read(self, ref: FrameRef) -> FileFrame:
        """Read one planned frame as stored (not yet mapped or checked)."""
        ...


def read_frame(dataset: Dataset, ref: FrameRef, mapper: FrameMapper) -> Frame:
    """Read, map and check the frame ``ref`` of ``dataset``, as the daemon's sources do.

    Raises
    ------
    FrameRejected
        The frame fails the frame check (pixels, pixel size): it can never be enhanced.
    IncompleteFileError
        The frame is not completely written (a copy still under way?): a rerun tries again.
    """
    return mapper.frame_for(dataset.read(ref), ref.source, ref.key)


def _planned(
    path: Path, refs: list[FrameRef], time_increment_s: float | None = None, left_out: int = 0
) -> DatasetPlan:
    seen: dict[FrameKey, FrameRef] = {}
    for ref in refs:
        earlier = seen.setdefault(ref.key, ref)
        if earlier is not ref:
            raise DatasetError(
                f"{path}: two frames at {ref.key.describe()} ({earlier.source} "
                f"{earlier.locator!r} and {ref.source} {ref.locator!r}); check --pattern"
            )
    channels = tuple(dict.fromkeys(ref.key.channel for ref in refs))
    return DatasetPlan(tuple(refs), channels, time_increment_s, left_out)


_NO_PIXELS = np.zeros((0, 0), dtype=np.uint16)


def _key(
    mapper: FrameMapper, path: Path, *, relative: str | None = None, **indices: Any
) -> FrameKey:
    """Return the key the daemon's mapper gives the frame the file describes with ``indices``.

    ``indices``: the :class:`FileFrame` fields the dataset's metadata gives (t, channel, z, p,
    where, pattern_applies ...); the pixels are not read here.
    """
    try:
        return mapper.key_of(FileFrame(image=_NO_PIXELS, **indices), path, relative=relative)
    except FrameRejected as error:
        raise DatasetError(f"{path}: {error}") from None


# -- OME-Zarr ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZarrPlane:
    """The index of one 2D plane in an NGFF array (all axes before y, x)."""

    index: tuple[int, ...]

    def __repr__(self) -> str:
        return f"[{', '.join(str(i) for i in self.index)}]"


@dataclass(frozen=True)
class ZarrImage:
    """One NGFF image of an OME-Zarr input and the stage position its frames get."""

    path: Path
    position: Position


@dataclass(frozen=True)
class OmeZarrDataset:
    """An NGFF image (axes t, c, [z,] y, x); a tcan-live store stands for its raw images."""

    path: Path
    kind: DatasetKind = "ome-zarr"

    def images(self) -> list[ZarrImage]:
        """Return the NGFF images to read: the path, or each raw image of a tcan-live store.

        Raises
        ------
        DatasetError
            A tcan-live store without raw frames, or holding more than one run.
        """
        if not _is_tcan_store(self.path):
            return [ZarrImage(self.path, Position())]
        stored = stored_images(self.path)
        if not (self.path / RAW_GROUP / "zarr.json").exists():
            raise DatasetError(
                f"{self.path}: a tcan-live store without raw frames (written with "
                "output.include_raw = false); batch needs the raw frames"
            )
        runs = sorted({image.position.run for image in stored})
        if len(runs) > 1:
            raise DatasetError(
                f"{self.path}: a tcan-live store of {len(runs)} acquisition runs; batch reads "
                "one run (give each run its own store)"
            )
        return [
            ZarrImage(self.path / image_path(RAW_GROUP, image.series), image.position)
            for image in stored
        ]

    def plan(self, mapper: FrameMapper) -> DatasetPlan:
        """List every written (t, c, z) plane of each image's full-resolution array."""
        refs: list[FrameRef] = []
        left_out = 0
        increment: float | None = None
        for source in self.images():
            image = source.path
            meta = _ngff_metadata(image)
            increment = increment or meta.time_increment_s
            array = zarr.open_array(LocalStore(image / meta.array_path, read_only=True), mode="r")
            axes = meta.axes
            if len(axes) != array.ndim:
                raise DatasetError(
                    f"{image}: {len(axes)} axes {list(axes)} in the metadata, {array.ndim} in "
                    "the array"
                )
            size = dict(zip(axes, array.shape, strict=True))
            leading = [axis for axis in axes if axis not in ("y", "x")]
            for t, c, z in np.ndindex(size.get("t", 1), size.get("c", 1), size.get("z", 1)):
                where = {"t": t, "c": c, "z": z}
                plane = ZarrPlane(tuple(where[axis] for axis in leading))
                if not _chunk_written(array, image / meta.array_path, plane.index):
                    left_out += 1
                    continue
                key = _key(
                    mapper,
                    image,
                    t=t,
                    channel=meta.label(c),
                    z=z,
                    p=source.position.index,
                    g=source.position.grid,
                    where=repr(plane),
                    pattern_applies=False,
                )
                refs.append(FrameRef(key, image, (source.position, plane)))
        return _planned(self.path, refs, increment, left_out)

    def read(self, ref: FrameRef) -> FileFrame:
        """Read one plane: only the chunks that hold it."""
        position, plane = ref.locator
        meta = _ngff_metadata(ref.source)
        array = zarr.open_array(LocalStore(ref.source / meta.array_path, read_only=True), mode="r")
        return FileFrame(
            image=np.asarray(array[plane.index]),
            where=repr(plane),
            pixel_size_nm=meta.pixel_size_nm,
            position_name=position.name or None,
            stage_um=position.stage_um,
            z_step_nm=meta.z_step_nm,
        )


def _is_tcan_store(path: Path) -> bool:
    try:
        return stored_layout(path) is not None
    except ValueError:  # a Zarr store not written by tcan-live
        return False


@dataclass(frozen=True)
class _NgffImage:
    axes: tuple[str, ...]
    array_path: str
    pixel_size_nm: float | None
    time_increment_s: float | None
    channels: tuple[str, ...]
    z_step_nm: float | None = None

    def label(self, c: int) -> str | None:
        """Return the channel name at index ``c`` (its omero label); None without a c axis."""
        if "c" not in self.axes:
            return None
        return self.channels[c] if c < len(self.channels) else str(c)


def _ngff_metadata(image: Path) -> _NgffImage:
    """Axes, level-0 array, pixel size, time increment and channel labels of an NGFF image."""
    try:
        group = zarr.open_group(LocalStore(image, read_only=True), mode="r")
    except (FileNotFoundError, ValueError, zarr.errors.GroupNotFoundError) as error:
        raise DatasetError(f"{image}: not a Zarr group ({error})") from None
    attributes: dict[str, Any] = dict(group.attrs)
    ome: Any = attributes.get("ome", attributes)  # 0.5 nests under "ome"; 0.4 is top-level
    multiscales = ome.get("multiscales") if isinstance(ome, Mapping) else None
    if not multiscales:
        raise DatasetError(
            f"{image}: no OME-NGFF 'multiscales' metadata; expected an OME-Zarr image (or a "
            "tcan-live store)"
        )
    first = multiscales[0]
    axes = tuple(
        str(axis["name"] if isinstance(axis, Mapping) else axis)
        for axis in first.get("axes", _NGFF_AXES)
    )
    unknown = [axis for axis in axes if axis not in _NGFF_AXES]
    if unknown or axes[-2:] != ("y", "x"):
        raise DatasetError(f"{image}: axes {list(axes)}; expected some of t, c, z followed by y, x")
    dataset = first["datasets"][0]
    scale = [  # the multiscale's own transform (optional), then the level's
        a * b
        for a, b in zip(
            _scale(first.get("coordinateTransformations", []), len(axes)),
            _scale(dataset.get("coordinateTransformations", []), len(axes)),
            strict=True,
        )
    ]
    units = {
        str(axis["name"]): axis.get("unit")
        for axis in first.get("axes", [])
        if isinstance(axis, Mapping)
    }
    x_unit = _UNIT_NM.get(str(units.get("x")))
    pixel_size_nm = scale[axes.index("x")] * x_unit if x_unit else None
    z_unit = _UNIT_NM.get(str(units.get("z")))
    z_step_nm = scale[axes.index("z")] * z_unit if z_unit and "z" in axes else None
    time_increment_s = None
    if "t" in axes and units.get("t") in _UNIT_S:
        time_increment_s = scale[axes.index("t")] * _UNIT_S[str(units["t"])]
    omero = ome.get("omero", {}) if isinstance(ome, Mapping) else {}
    labels = tuple(
        str(channel.get("label") or index)
        for index, channel in enumerate(omero.get("channels", []))
    )
    return _NgffImage(
        axes, str(dataset["path"]), pixel_size_nm, time_increment_s, labels, z_step_nm
    )


def _scale(transforms: Sequence[Mapping[str, Any]], ndim: int) -> list[float]:
    for transform in transforms:
        if transform.get("type") == "scale" and len(transform.get("scale", [])) == ndim:
            return [float(value) for value in transform["scale"]]
    return [1.0] * ndim


def _chunk_written(array: Any, folder: Path, plane: tuple[int, ...]) -> bool:
    """Whether the chunk holding the plane's first pixel exists (a local store)."""
    chunks = array.shards or array.chunks  # a shard file holds the frame's chunk
    coordinates = (*(i // c for i, c in zip(plane, chunks, strict=False)), 0, 0)
    return (folder / array.metadata.encode_chunk_key(coordinates)).exists()


# -- NDTiff and MMStack -------------------------------------------------------------------------


@dataclass(frozen=True)
class NDTiffDataset:
    """An NDTiff dataset folder, read through its index."""

    path: Path
    kind: DatasetKind = "ndtiff"

    def plan(self, mapper: FrameMapper) -> DatasetPlan:
        """One frame per index entry, keyed by its time and channel axes."""
        refs = []
        for number, entry in enumerate(NDTiffReader(self.path).index()):
            axes = entry.axes
            channel = axes.get("channel")
            key = _key(
                mapper,
                self.path,
                t=int(axes["time"]) if "time" in axes else None,
                channel=str(channel) if channel is not None else None,
                z=int(axes["z"]) if "z" in axes else None,
                p=int(axes["position"]) if "position" in axes else None,
                where=f"#{number}",
                pattern_applies=False,
            )
            refs.append(FrameRef(key, self.path, (number, entry)))
        return _planned(self.path, refs)

    def read(self, ref: FrameRef) -> FileFrame:
        """Read one image by its index entry."""
        number, entry = ref.locator
        assert isinstance(entry, IndexEntry)
        return NDTiffReader(self.path).read(entry, number)


@dataclass(frozen=True)
class MMStackDataset:
    """An MMStack file, or a folder of them (an acquisition rolled over into several files)."""

    path: Path
    kind: DatasetKind = "mmstack"

    def files(self) -> list[Path]:
        """Return the MMStack files, in name order."""
        if self.path.is_file():
            return [self.path]
        return [p for p in tiff_files_in(self.path) if is_mmstack_name(p.name)]

    def plan(self, mapper: FrameMapper) -> DatasetPlan:
        """One frame per index-map entry of every file."""
        refs = []
        for file in self.files():
            reader = MMStackReader(file)
            try:
                entries = reader.index()
            except (FrameRejected, IncompleteFileError) as error:
                raise DatasetError(f"{file}: {error}") from None
            for entry in entries:
                channel = reader.channel_name(entry.channel_index)
                key = _key(
                    mapper,
                    file,
                    t=entry.t,
                    channel=channel,
                    z=entry.z,
                    p=entry.position,
                    where=f"#{entry.number}",
                    pattern_applies=False,
                )
                refs.append(FrameRef(key, file, entry))
        return _planned(self.path, refs)

    def read(self, ref: FrameRef) -> FileFrame:
        """Read one image by its index-map entry."""
        entry = ref.locator
        assert isinstance(entry, MMStackEntry)
        return MMStackReader(ref.source).read(entry)


# -- TIFF files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TiffFolderDataset:
    """A folder of single-frame TIFFs; t and channel from ``pattern``, else the sorted order."""

    path: Path
    kind: DatasetKind = "tiff-folder"

    def plan(self, mapper: FrameMapper) -> DatasetPlan:
        """One frame per TIFF file directly in the folder."""
        refs = []
        for file in tiff_files_in(self.path):
            relative = file.relative_to(self.path).as_posix()
            key = _key(mapper, file, relative=relative)
            refs.append(FrameRef(key, file, relative))
        return _planned(self.path, refs)

    def read(self, ref: FrameRef) -> FileFrame:
        """Read the one frame of a file (its key is the planned one)."""
        frames = read_tiff_planes(ref.source)
        if len(frames) != 1:
            raise FrameRejected(
                f"{len(frames)} planes in the file: expected one frame per file in a TIFF "
                "folder (give a stack as its own input)"
            )
        return frames[0]


@dataclass(frozen=True)
class TiffStackDataset:
    """The planes of one TIFF / OME-TIFF stack as the time points of one channel."""

    path: Path
    kind: DatasetKind = "tiff-stack"

    def plan(self, mapper: FrameMapper) -> DatasetPlan:
        """One frame per 2D plane, in file order."""
        try:
            planes, pixel_size_nm = tiff_stack_planes(self.path)
        except ValueError as error:
            raise DatasetError(str(error)) from None
        refs = [
            FrameRef(
                _key(mapper, self.path, t=n, where=f"#{n}", pattern_applies=False),
                self.path,
                (n, pixel_size_nm),
            )
            for n in range(planes)
        ]
        return _planned(self.path, refs)

    def read(self, ref: FrameRef) -> FileFrame:
        """Read one plane (only its pages) with the file's pixel size."""
        plane, pixel_size_nm = ref.locator
        try:
            image = read_tiff_plane(self.path, plane)
        except ValueError as error:
            raise FrameRejected(str(error)) from None
        return FileFrame(image=image, where=f"#{plane}", t=plane, pixel_size_nm=pixel_size_nm)


def open_dataset(path: Path) -> Dataset:
    """Return the dataset at ``path``, by what it holds.

    Raises
    ------
    DatasetError
        Nothing tcan-live reads is there (the message says what was expected).
    """
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "zarr.json").exists() or (path / ".zattrs").exists():
            return OmeZarrDataset(path)
        if (path / INDEX_NAME).is_file():
            return NDTiffDataset(path)
        tiffs = tiff_files_in(path)
        if any(is_mmstack_name(p.name) for p in tiffs):
            return MMStackDataset(path)
        if tiffs:
            return TiffFolderDataset(path)
        raise DatasetError(
            f"{path}: no OME-Zarr image, NDTiff dataset, MMStack files or TIFF files in this folder"
        )
    if path.name == INDEX_NAME:
        return NDTiffDataset(path.parent)
    if is_mmstack_name(path.name):
        return MMStackDataset(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return TiffStackDataset(path)
    raise DatasetError(
        f"{path}: expected an OME-Zarr store, an NDTiff or MMStack dataset, a folder of TIFFs "
        "or a TIFF stack"
    )
