"""Training data: paired image sources, percentile normalisation, paired augmentation."""

from tcan_live_training.data.augment import Augmentation, paired_patch
from tcan_live_training.data.batches import BatchMaker
from tcan_live_training.data.pairs import PairFiles, find_pairs, read_pair
from tcan_live_training.data.sources import (
    FolderPairs,
    PairSource,
    SimulatedPairs,
    WithEmptyFields,
    normalize_pair,
    split_groups,
)

__all__ = [
    "Augmentation",
    "BatchMaker",
    "FolderPairs",
    "PairFiles",
    "PairSource",
    "SimulatedPairs",
    "WithEmptyFields",
    "find_pairs",
    "normalize_pair",
    "paired_patch",
    "read_pair",
    "split_groups",
]
