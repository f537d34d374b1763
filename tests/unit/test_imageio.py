from pathlib import Path

import numpy as np
import pytest
import tifffile

from tcan_live.core.tiff_files import ImageFileError, read_tiff, write_tiff


def test_round_trip_keeps_values_shape_and_pixel_size(tmp_path: Path) -> None:
    image = np.random.default_rng(0).random((2, 3, 8, 9)).astype(np.float32)
    path = write_tiff(tmp_path / "a" / "movie.tif", image, 37.5)
    data, pixel = read_tiff(path)
    np.testing.assert_array_equal(data, image)
    assert pixel == pytest.approx(37.5)


def test_reads_centimetre_tags_and_ome_and_reports_missing_sizes(tmp_path: Path) -> None:
    image = np.zeros((6, 6), np.uint16)
    tifffile.imwrite(tmp_path / "cm.tif", image, resolution=(40322.0, 40322.0), resolutionunit=3)
    assert read_tiff(tmp_path / "cm.tif")[1] == pytest.approx(248.0, rel=1e-4)
    tifffile.imwrite(tmp_path / "ome.ome.tif", image, metadata={"PhysicalSizeX": 0.065})
    assert read_tiff(tmp_path / "ome.ome.tif")[1] == pytest.approx(65.0)
    tifffile.imwrite(tmp_path / "bare.tif", image)
    assert read_tiff(tmp_path / "bare.tif")[1] is None
    with pytest.raises(ImageFileError, match="no such image file"):
        read_tiff(tmp_path / "missing.tif")
    (tmp_path / "text.tif").write_text("hello")
    with pytest.raises(ImageFileError, match=r"text\.tif: not a readable TIFF"):
        read_tiff(tmp_path / "text.tif")
