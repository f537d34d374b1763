"""Batches of paired patches, drawn in an order fixed by (seed, epoch)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from tcan_live_training.data.augment import CENTRE_CROP, Augmentation, paired_patch
from tcan_live_training.data.sources import PairSource

_STREAM_ORDER = 3
_STREAM_AUGMENT = 4


class BatchMaker:
    """Cuts (LR, HR) patch batches from a :class:`PairSource`.

    Parameters
    ----------
    source
        The pairs.
    patch
        LR patch side; HR patches are ``scale * patch``.
    scale
        HR pixels per LR pixel.
    augmentation
        Random transforms (``CENTRE_CROP`` for validation).
    seed
        Seeds the order and the transforms (with epoch and index).
    """

    def __init__(
        self,
        source: PairSource,
        patch: int,
        scale: int,
        augmentation: Augmentation,
        seed: int,
    ) -> None:
        self.source = source
        self.patch = patch
        self.scale = scale
        self.augmentation = augmentation
        self.seed = seed

    def epoch_order(self, epoch: int, steps: int, batch_size: int) -> list[NDArray[np.int64]]:
        """Return each step's batch indices: shuffled passes over the source, as many as needed."""
        rng = np.random.default_rng([self.seed, _STREAM_ORDER, epoch])
        needed = steps * batch_size
        passes = -(-needed // len(self.source))
        order = np.concatenate([rng.permutation(len(self.source)) for _ in range(passes)])
        return [order[i * batch_size : (i + 1) * batch_size] for i in range(steps)]

    def batch(
        self, indices: NDArray[np.int64], epoch: int, step: int = 0, first_slot: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return float32 tensors (N, 1, p, p) and (N, 1, scale p, scale p).

        The transforms are keyed by (epoch, step, slot), so a pair drawn twice in one epoch
        gets two different crops. ``first_slot`` is the slot of ``indices[0]`` in its global
        batch: a data-parallel process cutting its share draws the crops one process would.
        """
        lows, highs = [], []
        for slot, index in enumerate(indices.tolist(), start=first_slot):
            lr, hr = self.source.pair(index, epoch)
            rng = np.random.default_rng([self.seed, _STREAM_AUGMENT, epoch, step, slot])
            lr_patch, hr_patch = paired_patch(
                lr, hr, self.patch, self.scale, rng, self.augmentation
            )
            lows.append(lr_patch)
            highs.append(hr_patch)
        return (
            torch.from_numpy(np.stack(lows)[:, None]),
            torch.from_numpy(np.stack(highs)[:, None]),
        )

    def all_centre_crops(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Return the whole source as centre-cropped batches (validation; no augmentation)."""
        centre = BatchMaker(self.source, self.patch, self.scale, CENTRE_CROP, self.seed)
        indices = np.arange(len(self.source))
        return [
            centre.batch(indices[start : start + batch_size], epoch=0, step=start)
            for start in range(0, len(indices), batch_size)
        ]
