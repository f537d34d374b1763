"""Training data: paired image sources, percentile normalisation, paired augmentation."""

from training.data.augment import Augmentation, paired_patch
from training.data.batches import BatchMaker
from training.data.normalize import normalize_percentile, percentile_range
from training.data.pairs import PairFiles, find_pairs, read_pair
from training.data.sources import FolderPairs, PairSource, SimulatedPairs, split_groups

__all__ = [
    "Augmentation",
    "BatchMaker",
    "FolderPairs",
    "PairFiles",
    "PairSource",
    "SimulatedPairs",
    "find_pairs",
    "normalize_percentile",
    "paired_patch",
    "percentile_range",
    "read_pair",
    "split_groups",
]
