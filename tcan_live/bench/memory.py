"""Peak memory of a block of code: resident set size (sampled) and CUDA (torch's counter)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

_MB = 1024 * 1024


@dataclass
class PeakMemory:
    """Filled in when the ``peak_memory`` block ends."""

    rss_before_mb: float = 0.0
    peak_rss_mb: float = 0.0
    peak_cuda_mb: float | None = None

    @property
    def rss_increase_mb(self) -> float:
        """Peak resident memory above what the process held when the block began."""
        return self.peak_rss_mb - self.rss_before_mb


@contextmanager
def peak_memory(interval_s: float = 0.005) -> Iterator[PeakMemory]:
    """Measure the process's peak RSS (sampled every ``interval_s``) and CUDA allocation.

    RSS is sampled from a background thread, so a spike shorter than the interval can be
    missed; the CUDA figure is torch's exact peak of allocated memory (engines that allocate
    outside torch, such as TensorRT's own workspace, are not in it).
    """
    import torch

    process = psutil.Process()
    result = PeakMemory()
    result.rss_before_mb = result.peak_rss_mb = process.memory_info().rss / _MB
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval_s):
            result.peak_rss_mb = max(result.peak_rss_mb, process.memory_info().rss / _MB)

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sampler = threading.Thread(target=sample, name="peak-rss", daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result.peak_rss_mb = max(result.peak_rss_mb, process.memory_info().rss / _MB)
        if cuda:
            result.peak_cuda_mb = torch.cuda.max_memory_allocated() / _MB
