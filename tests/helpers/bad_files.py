"""A folder of bad acquisition files: one per fault, with the message each must produce."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

PATTERN = r"t(?P<t>\d+)_(?P<c>\w+?)(_.*)?\.tif$"
MAPPER: dict[str, Any] = {"pattern": PATTERN, "channels": ["DAPI", "FITC"]}
UM_PER_CM = 1e4


def write_tiff_um(path: Path, image: np.ndarray, pixel_size_um: float | None = 0.1) -> None:
    options: dict[str, Any] = {}
    if pixel_size_um is not None:
        per_cm = UM_PER_CM / pixel_size_um
        options = {"resolution": (per_cm, per_cm), "resolutionunit": "CENTIMETER"}
    photometric = "rgb" if image.ndim == 3 else "minisblack"
    tifffile.imwrite(path, image, photometric=photometric, **options)


def tiff_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, resolution=(1e5, 1e5), resolutionunit="CENTIMETER")
    return buffer.getvalue()


def write_bad_files(root: Path, outside: Path) -> dict[str, str]:
    """Write one file per fault; returns file name -> expected part of its message."""
    good = np.random.default_rng(5).integers(100, 4000, (8, 8), dtype=np.uint16)
    (root / "t0_DAPI_truncated.tif").write_bytes(tiff_bytes(good)[:-40])
    (root / "t0_DAPI_garbage.tif").write_bytes(b"\x00not a tiff" * 64)
    write_tiff_um(root / "t1_DAPI_int32.tif", good.astype(np.int32))
    write_tiff_um(root / "t2_DAPI_rgb.tif", np.ones((8, 8, 3), np.uint8))
    write_tiff_um(root / "t3_DAPI_nan.tif", np.full((8, 8), np.nan, np.float32))
    write_tiff_um(root / "t4_Cy5.tif", good)
    write_tiff_um(root / "t5_DAPI_nopixelsize.tif", good, pixel_size_um=None)
    write_tiff_um(root / "t6_DAPI_72dpi.tif", good, pixel_size_um=25400 / 72)
    write_tiff_um(root / "t7_DAPI_shape.tif", np.ones((9, 8), np.uint16))
    write_tiff_um(outside / "t8_DAPI.tif", good)
    os.symlink(outside / "t8_DAPI.tif", root / "t8_DAPI_link.tif")
    write_tiff_um(root / "t0_DAPI_a_first.tif", good)  # first: fixes the shape of channel DAPI
    write_tiff_um(root / "t0_DAPI_b_again.tif", good)
    # Ignored without a word: hidden and temporary files.
    write_tiff_um(root / ".t9_DAPI.tif", good)
    write_tiff_um(root / "t9_DAPI.tif.part", good)
    return {
        "t0_DAPI_truncated.tif": "truncated or corrupt TIFF, expected a complete image",
        "t0_DAPI_garbage.tif": "truncated or corrupt TIFF, expected a complete image",
        "t1_DAPI_int32.tif": "unexpected dtype int32: expected one of uint8, uint16, float32",
        "t2_DAPI_rgb.tif": "single-channel planes (axes ending in YX), got shape (8, 8, 3)",
        "t3_DAPI_nan.tif": "64 NaN/inf pixels: expected finite values",
        "t4_Cy5.tif": "unknown channel 'Cy5': expected one of ['DAPI', 'FITC']",
        "t5_DAPI_nopixelsize.tif": "no pixel size in the file's metadata: expected one",
        "t6_DAPI_72dpi.tif": "absurd pixel size 352778 nm",
        "t7_DAPI_shape.tif": "unexpected shape (9, 8): expected (8, 8)",
        "t8_DAPI_link.tif": "outside the watched root",
        "t0_DAPI_b_again.tif": "duplicate frame t=0 channel 'DAPI', already taken from",
    }
