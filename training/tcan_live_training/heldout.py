"""Simulated held-out sets for evaluating trained models, never drawn from in training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tcan_live.simulate.dataset import write_dataset

# Simulator seeds for evaluation: the trainer draws its samples from default_rng([seed, ...])
# with small training seeds; these streams are never used for training.
HELD_OUT_SEED = 1_000_003
REGRESSION_SEED = 1_000_033


@dataclass(frozen=True)
class HeldOutSpec:
    """A simulated evaluation set: structure, number and size of images, seed."""

    structure: str
    count: int
    size: int
    seed: int
    lr_iterations: int | None = None

    def write(self, folder: Path) -> Path:
        """Simulate the set into ``folder`` (deterministic for the spec)."""
        write_dataset(folder, self.structure, self.count, self.size, self.seed)
        return folder
