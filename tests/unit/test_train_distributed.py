"""How a data-parallel run splits its work: ranks from torchrun's environment, shards, shares."""

import numpy as np
import pytest

from tcan_live_training.distributed import Ranks


def test_ranks_come_from_torchruns_environment() -> None:
    assert Ranks.from_environment({}) == Ranks(0, 1, 0)
    ranks = Ranks.from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (ranks.rank, ranks.world_size, ranks.local_rank) == (3, 4, 1)
    assert ranks.parallel and not ranks.writer
    assert Ranks().writer and not Ranks().parallel


def test_each_process_takes_its_contiguous_share_with_its_global_slots() -> None:
    batch = np.array([7, 2, 9, 4, 0, 5], dtype=np.int64)
    shares = [Ranks(rank, 3).shard(batch) for rank in range(3)]
    assert [(list(share), first) for share, first in shares] == [
        ([7, 2], 0),
        ([9, 4], 2),
        ([0, 5], 4),
    ]
    assert np.array_equal(np.concatenate([share for share, _ in shares]), batch)
    assert list(Ranks().shard(batch)[0]) == list(batch)
    with pytest.raises(ValueError, match=r"data\.batch_size 6 does not split over 4 processes"):
        Ranks(0, 4).shard(batch)


def test_validation_batches_are_dealt_out_round_robin() -> None:
    batches = ["a", "b", "c", "d", "e"]
    assert [Ranks(rank, 2).share(batches) for rank in range(2)] == [[0, 2, 4], [1, 3]]
    assert Ranks().share(batches) == [0, 1, 2, 3, 4]
