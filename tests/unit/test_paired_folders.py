"""The lr/ + hr/ (+ gt/) layout, read once for evaluation and training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tcan_live.core.paired_folders import paired_files
from tcan_live.core.tiff_files import ImageFileError, write_tiff


def _write(root: Path, folder: str, *names: str) -> None:
    for name in names:
        write_tiff(root / folder / name, np.zeros((8, 8), np.float32), 50.0)


def test_partners_are_found_by_name_in_every_folder_present(tmp_path: Path) -> None:
    _write(tmp_path, "lr", "b.tif", "a.tif")
    _write(tmp_path, "hr", "a.tif", "b.tif")
    fields = paired_files(tmp_path)
    assert [f.name for f in fields] == ["a.tif", "b.tif"]
    assert fields[0].partners == {"hr": tmp_path / "hr" / "a.tif"}  # no gt/ folder: none
    assert paired_files(tmp_path, partners=())[1].partners == {}


def test_a_partner_folder_must_mirror_lr(tmp_path: Path) -> None:
    _write(tmp_path, "lr", "a.tif", "b.tif")
    _write(tmp_path, "hr", "a.tif", "c.tif")
    with pytest.raises(ImageFileError, match=r"lr/b\.tif: no HR file of the same name"):
        paired_files(tmp_path)
    _write(tmp_path, "hr", "b.tif")
    with pytest.raises(ImageFileError, match=r"hr/c\.tif: no LR file of the same name"):
        paired_files(tmp_path)
    with pytest.raises(ImageFileError, match="no such folder"):
        paired_files(tmp_path / "hr")
    (tmp_path / "empty" / "lr").mkdir(parents=True)
    with pytest.raises(ImageFileError, match="no TIFF files"):
        paired_files(tmp_path / "empty")
