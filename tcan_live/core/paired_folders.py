"""The paired data-set layout: ``lr/``, ``hr/`` (and ``gt/``) folders of TIFFs with equal names.

``tcan-live simulate`` writes it; ``tcan-live evaluate`` and the trainer read it through
:func:`paired_files`, so a data set that one accepts the other accepts too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tcan_live.core.tiff_files import ImageFileError, tiff_files_in

INPUT_FOLDER = "lr"


@dataclass(frozen=True)
class PairedFiles:
    """One field of view: its low-resolution file and its partners by folder name."""

    name: str
    lr: Path
    partners: dict[str, Path] = field(default_factory=dict)


def paired_files(root: Path, partners: Sequence[str] = ("hr", "gt")) -> list[PairedFiles]:
    """List ``root/lr/*.tif`` with the files of the same name in each partner folder present.

    A partner folder that exists must mirror ``lr/`` exactly: a file missing on either side is
    refused, naming it.

    Raises
    ------
    ImageFileError
        ``lr/`` is empty or a partner folder does not mirror it.
    """
    if not (root / INPUT_FOLDER).is_dir():
        raise ImageFileError(f"{root / INPUT_FOLDER}: no such folder (expected the LR TIFFs)")
    lr_files = {path.name: path for path in tiff_files_in(root / INPUT_FOLDER)}
    if not lr_files:
        raise ImageFileError(f"{root / INPUT_FOLDER}: no TIFF files")
    found: dict[str, dict[str, Path]] = {}
    for folder in partners:
        if not (root / folder).is_dir():
            continue
        files = {path.name: path for path in tiff_files_in(root / folder)}
        for name in sorted(lr_files.keys() - files.keys()):
            raise ImageFileError(
                f"{root / INPUT_FOLDER / name}: no {folder.upper()} file of the same name in "
                f"{root / folder} ({folder}/ must mirror {INPUT_FOLDER}/)"
            )
        for name in sorted(files.keys() - lr_files.keys()):
            raise ImageFileError(
                f"{root / folder / name}: no LR file of the same name in {root / INPUT_FOLDER}"
            )
        found[folder] = files
    return [
        PairedFiles(name, path, {folder: files[name] for folder, files in found.items()})
        for name, path in sorted(lr_files.items())
    ]
