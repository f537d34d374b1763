"""Paired augmentation: one random crop, 90-degree rotation and flip applied to LR and HR alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.float32]


@dataclass(frozen=True)
class Augmentation:
    """Which random transforms a training patch gets (all off: a centre crop)."""

    random_crop: bool = True
    rotate90: bool = True
    flip: bool = True


CENTRE_CROP = Augmentation(random_crop=False, rotate90=False, flip=False)


def paired_patch(
    lr: Image,
    hr: Image,
    patch: int,
    scale: int,
    rng: np.random.Generator,
    augmentation: Augmentation,
) -> tuple[Image, Image]:
    """Cut a ``patch`` x ``patch`` LR crop and the HR crop covering the same field.

    The HR crop starts at ``scale`` times the LR offset and is ``scale * patch`` wide, so an
    LR pixel and the ``scale`` x ``scale`` HR pixels it covers stay together through every
    rotation and flip.

    Raises
    ------
    ValueError
        If the LR image is smaller than the patch or HR is not ``scale`` times LR.
    """
    height, width = lr.shape
    if hr.shape != (height * scale, width * scale):
        raise ValueError(
            f"HR shape {hr.shape} is not {scale} x the LR shape {lr.shape} (scale {scale})"
        )
    if height < patch or width < patch:
        raise ValueError(f"image {lr.shape} is smaller than the {patch} px training patch")
    if augmentation.random_crop:
        top = int(rng.integers(0, height - patch + 1))
        left = int(rng.integers(0, width - patch + 1))
    else:
        top, left = (height - patch) // 2, (width - patch) // 2
    lr_patch = lr[top : top + patch, left : left + patch]
    hr_patch = hr[scale * top : scale * (top + patch), scale * left : scale * (left + patch)]
    if augmentation.rotate90:
        turns = int(rng.integers(0, 4))
        lr_patch, hr_patch = np.rot90(lr_patch, turns), np.rot90(hr_patch, turns)
    if augmentation.flip:
        for axis in (0, 1):
            if rng.random() < 0.5:
                lr_patch, hr_patch = np.flip(lr_patch, axis), np.flip(hr_patch, axis)
    return np.ascontiguousarray(lr_patch), np.ascontiguousarray(hr_patch)
