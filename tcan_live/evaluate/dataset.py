"""The evaluation data layout: ``lr/`` (required), optional ``hr/`` and ``gt/``, ``meta.json``.

Files are paired by name across folders. A folder of TIFFs without an ``lr/`` subfolder is
read as unpaired low-resolution data. Pixel sizes come from the TIFF metadata (or an explicit
override for files that lack it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tcan_live.core.paired_folders import INPUT_FOLDER, PairedFiles, paired_files
from tcan_live.core.tiff_files import ImageFileError, read_tiff, tiff_files_in

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class EvalImage:
    """One field of view: LR input and, for paired data, noisy and noise-free HR."""

    name: str
    lr: FloatArray
    lr_pixel_nm: float
    hr: FloatArray | None = None
    gt: FloatArray | None = None
    bead_positions_px: NDArray[np.float64] | None = None

    @property
    def hr_pixel_nm(self) -> float | None:
        """Pixel size of ``hr``/``gt`` (None for unpaired data)."""
        reference = self.gt if self.gt is not None else self.hr
        if reference is None:
            return None
        return self.lr_pixel_nm * self.lr.shape[0] / reference.shape[0]


@dataclass(frozen=True)
class EvalSet:
    """The images of one evaluation run and the data set's own description."""

    root: Path
    images: tuple[EvalImage, ...]
    scale: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def paired(self) -> bool:
        """Whether HR images exist."""
        return self.images[0].hr is not None or self.images[0].gt is not None

    @property
    def structure(self) -> str | None:
        """The simulated structure, if the data set says."""
        value = self.meta.get("structure")
        return str(value) if value is not None else None


def _read_2d(path: Path, override_nm: float | None) -> tuple[FloatArray, float]:
    image, pixel_nm = read_tiff(path)
    image = np.squeeze(image)
    if image.ndim != 2:
        raise ImageFileError(f"{path}: expected a single 2D image, got shape {image.shape}")
    pixel = override_nm if override_nm is not None else pixel_nm
    if pixel is None or pixel <= 0:
        raise ImageFileError(f"{path}: no pixel size in the TIFF metadata; pass --pixel-size-nm")
    return image, pixel


def load_eval_set(
    root: str | Path, *, pixel_size_nm: float | None = None, max_images: int | None = None
) -> EvalSet:
    """Read an evaluation folder.

    Parameters
    ----------
    root
        Folder with ``lr/`` (and optionally ``hr/``, ``gt/``, ``meta.json``), or a folder of
        LR TIFFs.
    pixel_size_nm
        LR pixel size to use instead of the files' metadata.
    max_images
        Use only the first images (sorted by name).
    """
    base = Path(root)
    if not base.is_dir():
        raise ImageFileError(f"{base}: no such data folder")
    if (base / INPUT_FOLDER).is_dir():
        fields = paired_files(base)[:max_images]
    else:  # a folder of LR TIFFs: unpaired data
        fields = [PairedFiles(path.name, path) for path in tiff_files_in(base)][:max_images]
    if not fields:
        raise ImageFileError(f"{base}: no .tif files (expected DIR/lr/*.tif or DIR/*.tif)")
    meta: dict[str, Any] = {}
    if (base / "meta.json").is_file():
        try:
            meta = json.loads((base / "meta.json").read_text())
        except json.JSONDecodeError as error:
            raise ImageFileError(f"{base / 'meta.json'}: invalid JSON ({error})") from None
    beads = {entry["file"]: entry.get("bead_positions_px") for entry in meta.get("images", [])}
    images = []
    scales = set()
    for entry in fields:
        lr, lr_nm = _read_2d(entry.lr, pixel_size_nm)
        paired = {folder: read_tiff(path)[0].squeeze() for folder, path in entry.partners.items()}
        for folder, image in paired.items():
            ratio = image.shape[0] / lr.shape[0]
            if ratio != round(ratio) or image.shape[1] != lr.shape[1] * round(ratio):
                raise ImageFileError(
                    f"{entry.partners[folder]}: shape {image.shape} is not an integer "
                    f"multiple of the LR shape {lr.shape}"
                )
            scales.add(round(ratio))
        positions = beads.get(entry.name)
        images.append(
            EvalImage(
                name=entry.name,
                lr=lr,
                lr_pixel_nm=lr_nm,
                hr=paired.get("hr"),
                gt=paired.get("gt"),
                bead_positions_px=None if positions is None else np.asarray(positions),
            )
        )
    if len(scales) > 1:
        raise ImageFileError(f"{base}: HR/LR size ratios differ between images: {sorted(scales)}")
    return EvalSet(root=base, images=tuple(images), scale=scales.pop() if scales else 1, meta=meta)
