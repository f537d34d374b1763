"""Data-parallel training under ``torchrun``: ranks, the process group, shards and reductions.

``torchrun --nproc-per-node N ... tcan-live train`` starts N processes and tells each its
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``. Every process builds the same models from the
same seed and draws the same global batch order; each takes its contiguous share of every
global batch (keeping each sample's global slot, so its crop and flips are the ones a single
process would draw) and the gradients are averaged across processes by
``DistributedDataParallel`` (gloo on the CPU, NCCL on CUDA). Every loss is a mean over samples,
so N processes with ``batch_size / N`` samples each compute the gradient of the same global
batch as one process: the runs differ only by floating-point summation order. Rank 0 alone
writes the checkpoints, the log and the curves.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from numpy.typing import NDArray


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Ranks:
        """Read torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (absent: one process)."""
        env = os.environ if environment is None else environment
        return cls(
            rank=int(env.get("RANK", 0)),
            world_size=int(env.get("WORLD_SIZE", 1)),
            local_rank=int(env.get("LOCAL_RANK", 0)),
        )

    @property
    def parallel(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def writer(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0

    def local_batch(self, batch_size: int) -> int:
        """Return this process's share of a global batch of ``batch_size`` samples.

        Raises
        ------
        ValueError
            ``batch_size`` does not split evenly (unequal shares would weight samples unevenly).
        """
        if batch_size % self.world_size:
            raise ValueError(
                f"data.batch_size {batch_size} does not split over {self.world_size} "
                f"processes; use a multiple of {self.world_size}"
            )
        return batch_size // self.world_size

    def shard(self, indices: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
        """Return this process's contiguous part of a global batch and its first global slot."""
        size = self.local_batch(len(indices))
        first = self.rank * size
        return indices[first : first + size], first

    def share(self, items: Sequence[object]) -> list[int]:
        """Return the indices of ``items`` this process takes when dealt out round-robin."""
        return list(range(self.rank, len(items), self.world_size))


@contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join the run's process group (gloo on the CPU, NCCL on CUDA); nothing for one process."""
    if not ranks.parallel:
        yield
        return
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo",
        rank=ranks.rank,
        world_size=ranks.world_size,
    )
    try:
        yield
        # Every rank arrives before any tears down: rank 0 is still writing its files when the
        # others finish, and a peer's sockets closing under gloo can abort a process.
        dist.barrier()
    finally:
        # The trainer's models are gone by now unless a reference cycle holds them; a DDP
        # reducer in such a cycle would keep the group's gloo threads alive into the
        # interpreter's finalisation, where they can abort the process.
        gc.collect()
        dist.destroy_process_group()


def backend_name(ranks: Ranks) -> str | None:
    """Return the process group's backend (``gloo``, ``nccl``); None for one process."""
    return str(dist.get_backend()) if ranks.parallel else None


def summed(values: Sequence[float], ranks: Ranks, device: torch.device) -> list[float]:
    """Each value summed over the processes (as float64; unchanged for one process)."""
    if not ranks.parallel:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(value) for value in tensor.cpu()]
