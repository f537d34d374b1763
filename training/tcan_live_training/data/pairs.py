"""Find and read LR/HR TIFF pairs on disk.

Two layouts are understood:

``lr-hr``
    ``ROOT/lr/NAME.tif`` and ``ROOT/hr/NAME.tif`` with the same file names (the layout
    ``tcan-live simulate`` writes; a ``gt/`` folder beside them is ignored).
``biosr``
    BioSR-style per-cell folders (Qiao et al. 2021: ``Microtubules/Cell_001/...``), converted to
    TIFF: every folder below ROOT holding a ground-truth file (``hr_pattern``, default
    ``SIM_gt*.tif*``) is one cell; each file there matching ``lr_pattern`` (default
    ``RawSIMData_level_*.tif*``, one per SNR level) is paired with that ground truth. A 3-D LR
    stack (BioSR's raw SIM frames) is averaged over its first axis into a widefield image, as
    BioSR's own widefield inputs are made.
``suffix``
    One folder of ``NAME<lr suffix>`` / ``NAME<hr suffix>`` files, e.g. ``3_Confocal.tif`` and
    ``3_STED.tif`` (``lr_pattern = "*_Confocal.tif"``, ``hr_pattern = "*_STED.tif"``); each
    NAME is one field.
``stacked``
    Each file matching ``lr_pattern`` holds two planes, [LR, HR], of one field (e.g. a
    (2, Y, X) confocal/STED TIFF); the file stem is the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from tcan_live.core.paired_folders import paired_files
from tcan_live.core.tiff_files import read_tiff, read_tiff_stack

Layout = Literal["auto", "lr-hr", "biosr", "suffix", "stacked"]


@dataclass(frozen=True)
class PairFiles:
    """One LR/HR pair on disk; ``group`` keeps pairs of one cell together in the split."""

    name: str
    lr: Path
    hr: Path
    group: str
    average_lr_stack: bool = False
    stacked: bool = False


def _lr_hr_pairs(root: Path) -> list[PairFiles]:
    fields = paired_files(root, partners=("hr",))
    if "hr" not in fields[0].partners:
        raise ValueError(f"{root / 'hr'}: no such folder (expected lr/ and hr/ side by side)")
    return [PairFiles(f.name, f.lr, f.partners["hr"], group=f.name) for f in fields]


def _biosr_pairs(root: Path, lr_pattern: str, hr_pattern: str) -> list[PairFiles]:
    pairs: list[PairFiles] = []
    cells = sorted({path.parent for path in root.rglob(hr_pattern) if path.is_file()})
    if not cells:
        raise ValueError(f"{root}: no per-cell folders with a ground-truth file '{hr_pattern}'")
    for cell in cells:
        truths = sorted(cell.glob(hr_pattern))
        if len(truths) != 1:
            names = ", ".join(path.name for path in truths)
            raise ValueError(
                f"{cell}: expected one ground-truth file '{hr_pattern}', found {names}"
            )
        inputs = sorted(path for path in cell.glob(lr_pattern) if path not in truths)
        if not inputs:
            raise ValueError(f"{cell}: no low-resolution file matching '{lr_pattern}'")
        group = cell.relative_to(root).as_posix()
        pairs += [
            PairFiles(f"{group}/{path.name}", path, truths[0], group, average_lr_stack=True)
            for path in inputs
        ]
    return pairs


def _suffix_pairs(root: Path, lr_pattern: str, hr_pattern: str) -> list[PairFiles]:
    if not (lr_pattern.startswith("*") and hr_pattern.startswith("*")):
        raise ValueError(
            f"layout 'suffix': patterns must start with '*' (got {lr_pattern!r}, {hr_pattern!r})"
        )
    lr_suffix, hr_suffix = lr_pattern[1:], hr_pattern[1:]
    pairs = []
    for path in sorted(root.glob(lr_pattern)):
        name = path.name[: -len(lr_suffix)] if lr_suffix else path.name
        partner = root / f"{name}{hr_suffix}"
        if not partner.is_file():
            raise ValueError(f"{path}: no partner {partner.name} in {root}")
        pairs.append(PairFiles(name, path, partner, group=name))
    if not pairs:
        raise ValueError(f"{root}: no files matching '{lr_pattern}'")
    return pairs


def _stacked_pairs(root: Path, pattern: str) -> list[PairFiles]:
    files = sorted(path for path in root.glob(pattern) if path.is_file())
    if not files:
        raise ValueError(f"{root}: no files matching '{pattern}'")
    return [PairFiles(path.stem, path, path, group=path.stem, stacked=True) for path in files]


def find_pairs(
    root: str | Path,
    layout: Layout = "auto",
    lr_pattern: str = "RawSIMData_level_*.tif*",
    hr_pattern: str = "SIM_gt*.tif*",
) -> list[PairFiles]:
    """List the LR/HR pairs under ``root`` in a stable (sorted) order.

    Parameters
    ----------
    root
        Data folder.
    layout
        ``"lr-hr"``, ``"biosr"``, ``"suffix"``, ``"stacked"`` or ``"auto"`` (``lr-hr`` when
        ``root/lr`` and ``root/hr`` exist, else ``biosr``).
    lr_pattern, hr_pattern
        Glob patterns of the BioSR-style input and ground-truth files.

    Raises
    ------
    ValueError
        Naming the folder or file that breaks the layout.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such data folder")
    if layout == "auto":
        layout = "lr-hr" if (folder / "lr").is_dir() and (folder / "hr").is_dir() else "biosr"
    if layout == "lr-hr":
        return _lr_hr_pairs(folder)
    if layout == "suffix":
        return _suffix_pairs(folder, lr_pattern, hr_pattern)
    if layout == "stacked":
        return _stacked_pairs(folder, lr_pattern)
    return _biosr_pairs(folder, lr_pattern, hr_pattern)


def _read_stacked(path: Path) -> tuple[NDArray[np.float32], NDArray[np.float32], float | None]:
    planes, pixel_size_nm = read_tiff_stack(path)
    if planes.shape[0] != 2:
        raise ValueError(f"{path}: expected two planes [LR, HR], got shape {planes.shape}")
    return (
        planes[0].astype(np.float32),
        planes[1].astype(np.float32),
        pixel_size_nm,
    )


def _read_plane(path: Path, average_stack: bool) -> tuple[NDArray[np.float32], float | None]:
    image, pixel_size_nm = read_tiff(path)
    image = np.squeeze(image).astype(np.float32)
    if image.ndim == 3 and average_stack:
        image = image.mean(axis=0, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {image.shape}")
    return image, pixel_size_nm


def read_pair(
    pair: PairFiles, scale: int, pixel_size_nm: float | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Read one pair as float32 2-D images and check that HR is ``scale`` times LR.

    With ``pixel_size_nm`` (the expected input pixel size), an LR file that records a pixel
    size more than 1 % different is refused: a model trained at the wrong scale is useless.
    """
    if pair.stacked:
        lr, hr, recorded = _read_stacked(pair.lr)
    else:
        lr, recorded = _read_plane(pair.lr, pair.average_lr_stack)
        hr, _ = _read_plane(pair.hr, average_stack=False)
    if hr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(
            f"{pair.hr}: shape {hr.shape} is not {scale} x the shape {lr.shape} of {pair.lr}"
        )
    if pixel_size_nm and recorded and abs(recorded / pixel_size_nm - 1.0) > 0.01:
        raise ValueError(
            f"{pair.lr}: the file records {recorded:.4g} nm pixels, data.pixel_size_nm is "
            f"{pixel_size_nm:.4g} nm"
        )
    return lr, hr
