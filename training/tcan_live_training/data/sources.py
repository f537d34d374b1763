"""Sources of normalised LR/HR image pairs: folders on disk, or the simulator on the fly.

A source returns whole normalised images; cropping and augmentation happen in
:mod:`tcan_live_training.data.batches`. Every random choice is derived from (seed, epoch,
index), never from global state, so a run resumed at an epoch boundary sees exactly the data it
would have seen without stopping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from tcan_live.metrics.intensity import percentile_range
from tcan_live.metrics.registration import align_pair
from tcan_live.model import NormalizationSpec
from tcan_live.runtime.resample import resample_to_pixel_size
from tcan_live.simulate import SimulationConfig, simulate_pair
from tcan_live_training.config import VarietyConfig
from tcan_live_training.data.pairs import PairFiles, read_pair
from tcan_live_training.data.units import (
    LinearMap,
    fitted_map,
    normalize_to_input,
    simulated_map,
)
from tcan_live_training.data.variety import draw_physics

Image = NDArray[np.float32]

# Independent random streams derived from the run's seed.
STREAM_TRAIN_SIMULATION = 0
STREAM_VALIDATION_SIMULATION = 1
STREAM_SPLIT = 2
# 3 and 4 are the batch order and augmentation (batches.py); 5 the physics-sigma sample.
STREAM_EMPTY_FIELDS = 6


class PairSource(Protocol):
    """Indexed normalised (LR, HR) pairs."""

    def __len__(self) -> int:
        """Return the number of pairs per epoch."""
        ...

    def pair(self, index: int, epoch: int) -> tuple[Image, Image]:
        """Return the normalised LR and HR images of pair ``index`` in ``epoch``."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (stored in checkpoints)."""
        ...


def normalize_pair(lr: Image, hr: Image, spec: NormalizationSpec) -> tuple[Image, Image]:
    """Normalise LR and HR, each with its own percentiles (low -> 0, high -> 1).

    The network thus learns an output whose percentile range is [0, 1]; the runtime maps it
    back with the INPUT's two numbers (``output * (hi - lo) + lo``), which puts the result on
    the input frame's intensity scale whatever the HR modality's photon counts were.
    ``spec.clip`` clips both to [0, 1].
    """
    scaled = [percentile_range(image, spec).normalize(image) for image in (lr, hr)]
    if spec.clip:
        scaled = [np.clip(image, 0.0, 1.0) for image in scaled]
    return scaled[0], scaled[1]


# A pair whose images are shifted by more than this (LR pixels) is not one field's pair.
MAX_PAIR_SHIFT_PX = 1.0


def prepare_real_pair(
    pair: PairFiles,
    lr: Image,
    hr: Image,
    registration: str,
    pixel_size_nm: float | None,
    resample_to_nm: float | None,
) -> tuple[Image, Image, tuple[float, float]]:
    """Check or register a real pair, then resample it as the runtime resamples its input.

    Returns the LR and HR images and the measured shift of HR onto LR (HR pixels).
    """
    shift = (0.0, 0.0)
    if registration != "off":
        aligned, shift = align_pair(lr, hr)
        scale = hr.shape[0] / lr.shape[0]
        if registration == "check" and max(abs(s) for s in shift) > MAX_PAIR_SHIFT_PX * scale:
            raise ValueError(
                f"{pair.hr}: shifted by ({shift[0]:.2f}, {shift[1]:.2f}) px against {pair.lr}; "
                "set data.registration = 'align' to register it"
            )
        if registration == "align":
            hr = aligned.astype(np.float32)
    if resample_to_nm and pixel_size_nm and resample_to_nm != pixel_size_nm:
        scale = hr.shape[0] // lr.shape[0]
        lr = resample_to_pixel_size(lr, pixel_size_nm, resample_to_nm)
        hr = resample_to_pixel_size(hr, pixel_size_nm / scale, resample_to_nm / scale)
    return lr.astype(np.float32), hr.astype(np.float32), shift


class FolderPairs:
    """Pairs read from TIFF files once and kept in memory, normalised.

    ``target_units = "own"``: each image by its own percentiles. ``"input"``: HR mapped into
    the LR's units by a fitted linear map (:func:`fitted_map`), both by the LR's range.
    """

    def __init__(
        self,
        files: Sequence[PairFiles],
        scale: int,
        spec: NormalizationSpec,
        pixel_size_nm: float | None = None,
        *,
        target_units: str = "own",
        registration: str = "off",
        resample_to_nm: float | None = None,
    ) -> None:
        if not files:
            raise ValueError("no image pairs to train or validate on")
        self.files = list(files)
        self.target_units = target_units
        self.maps: list[LinearMap] = []
        self.shifts: list[tuple[float, float]] = []
        self._images = []
        for pair in self.files:
            lr, hr, shift = prepare_real_pair(
                pair,
                *read_pair(pair, scale, pixel_size_nm),
                registration,
                pixel_size_nm,
                resample_to_nm,
            )
            self.shifts.append(shift)
            if target_units == "input":
                mapping = fitted_map(lr, hr)
                self.maps.append(mapping)
                self._images.append(normalize_to_input(lr, mapping.apply(hr), spec))
            else:
                self._images.append(normalize_pair(lr, hr, spec))

    def __len__(self) -> int:
        """Return the number of pairs."""
        return len(self._images)

    def pair(self, index: int, epoch: int) -> tuple[Image, Image]:
        """Return pair ``index`` (the same in every epoch)."""
        return self._images[index]

    def describe(self) -> dict[str, Any]:
        """Files and their count."""
        return {
            "kind": "pairs",
            "count": len(self.files),
            "files": [pair.name for pair in self.files],
            "target_units": self.target_units,
            "shifts_px": [list(shift) for shift in self.shifts],
            "linear_maps": [
                {"alpha": m.alpha, "beta": m.beta, "sigma_px": m.sigma_px, "rsp": m.rsp}
                for m in self.maps
            ],
        }


class SimulatedPairs:
    """Pairs simulated on the fly, each determined by (seed, stream, epoch, index).

    Structures alternate with the index. With ``fresh_each_epoch`` every epoch draws new
    samples (an endless data set); otherwise the same ``count`` samples recur.
    """

    def __init__(
        self,
        structures: Sequence[str],
        lr_size: int,
        config: SimulationConfig,
        spec: NormalizationSpec,
        *,
        seed: int,
        count: int,
        stream: int = STREAM_TRAIN_SIMULATION,
        fresh_each_epoch: bool = True,
        target: str = "hr",
        target_units: str = "own",
        variety: VarietyConfig | None = None,
    ) -> None:
        self.target_units = target_units
        self.variety = variety
        self.structures = tuple(structures)
        self.lr_size = lr_size
        self.config = config
        self.spec = spec
        self.seed = seed
        self.count = count
        self.stream = stream
        self.fresh_each_epoch = fresh_each_epoch
        self.target = target

    def __len__(self) -> int:
        """Return the number of samples per epoch."""
        return self.count

    def pair(self, index: int, epoch: int) -> tuple[Image, Image]:
        """Simulate sample ``index`` of ``epoch`` (deterministic)."""
        epoch_key = epoch if self.fresh_each_epoch else 0
        rng = np.random.default_rng([self.seed, self.stream, epoch_key, index])
        structure = self.structures[index % len(self.structures)]
        config = self.config
        if self.variety is not None:
            config, empty = draw_physics(config, self.variety, rng)
            structure = "empty" if empty else structure
        simulated = simulate_pair(structure, self.lr_size * config.scale, rng, config)
        target = simulated.gt if self.target == "gt" else simulated.hr
        if self.target_units == "input":
            return normalize_to_input(simulated.lr, simulated_map(config).apply(target), self.spec)
        return normalize_pair(simulated.lr, target, self.spec)

    def describe(self) -> dict[str, Any]:
        """Structures, sizes, target and the simulator's physics."""
        return {
            "kind": "simulated",
            "structures": list(self.structures),
            "lr_size": self.lr_size,
            "samples_per_epoch": self.count,
            "fresh_each_epoch": self.fresh_each_epoch,
            "target": self.target,
            "target_units": self.target_units,
            "variety": self.variety.model_dump(mode="json") if self.variety else None,
            "seed": self.seed,
            "stream": self.stream,
            "simulation": self.config.model_dump(mode="json"),
        }


class WithEmptyFields:
    """Training pairs with an exact share of simulated noise-only fields mixed in.

    Each epoch has ``count`` samples; ``round(fraction * count)`` of them, chosen by a
    (seed, epoch) permutation, are drawn from ``empty`` (the simulator's ``"empty"``
    structure, each sample keyed by (seed, epoch, index)); the others cycle through
    ``real``. Only for training: validation stays on the real pairs.
    """

    def __init__(
        self, real: PairSource, empty: SimulatedPairs, fraction: float, *, seed: int, count: int
    ) -> None:
        self.real = real
        self.empty = empty
        self.fraction = fraction
        self.seed = seed
        self.count = count
        self._masks: dict[int, NDArray[np.bool_]] = {}

    def __len__(self) -> int:
        """Return the number of samples per epoch."""
        return self.count

    def is_empty(self, index: int, epoch: int) -> bool:
        """Return whether sample ``index`` of ``epoch`` is a simulated empty field."""
        if epoch not in self._masks:
            rng = np.random.default_rng([self.seed, STREAM_EMPTY_FIELDS, epoch])
            mask = np.zeros(self.count, dtype=bool)
            mask[rng.permutation(self.count)[: round(self.fraction * self.count)]] = True
            self._masks = {epoch: mask}  # one epoch at a time: the trainer goes in order
        return bool(self._masks[epoch][index])

    def pair(self, index: int, epoch: int) -> tuple[Image, Image]:
        """Return sample ``index`` of ``epoch``: an empty field or a real pair."""
        if self.is_empty(index, epoch):
            return self.empty.pair(index, epoch)
        return self.real.pair(index % len(self.real), epoch)

    def describe(self) -> dict[str, Any]:
        """Return the real pairs' description with the empty fields' share and physics."""
        return {
            **self.real.describe(),
            "samples_per_epoch": self.count,
            "empty_fields": {
                "fraction": self.fraction,
                "per_epoch": round(self.fraction * self.count),
                **self.empty.describe(),
            },
        }


def split_groups(
    pairs: Sequence[PairFiles], fraction: float, seed: int
) -> tuple[list[PairFiles], list[PairFiles]]:
    """Hold out about ``fraction`` of the groups (cells) for validation, deterministically.

    Whole groups go to one side, so the SNR levels of one BioSR cell never straddle the split.
    The held-out groups are the first of a permutation seeded by ``seed``.

    Returns
    -------
    tuple
        (training pairs, validation pairs), each in the input order.
    """
    groups = sorted({pair.group for pair in pairs})
    if len(groups) < 2:
        raise ValueError(
            f"cannot split {len(groups)} group(s) into training and validation; "
            "add pairs or give data.validation_path"
        )
    order = np.random.default_rng([seed, STREAM_SPLIT]).permutation(len(groups))
    held = max(1, min(len(groups) - 1, round(fraction * len(groups))))
    validation = {groups[i] for i in order[:held]}
    return (
        [pair for pair in pairs if pair.group not in validation],
        [pair for pair in pairs if pair.group in validation],
    )
