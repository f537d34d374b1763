"""The machine's own arithmetic rate, measured in the run: dense matmul and 3 x 3 convolution.

A benchmark's throughput means little without the rate the same machine reaches on the
operations the network is made of, measured under the same load. Each probe repeats one torch
operation for a short time and keeps its best repeat, in FLOP/s (2 per multiply-add).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MachineRate:
    """Best FLOP/s of each probe, with what was measured."""

    device: str
    dtype: str
    matmul_flops: float
    conv_flops: float
    matmul_shape: tuple[int, int, int]
    conv_shape: tuple[int, int, int, int]


def _best_rate(step: Callable[[], object], flops: float, seconds: float, sync: bool) -> float:
    """Repeat ``step`` for about ``seconds`` (at least 3 times); FLOP/s of the fastest."""
    step()  # first call: allocation, kernel selection
    best = float("inf")
    deadline = time.perf_counter() + seconds
    repeats = 0
    while repeats < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        step()
        if sync:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        repeats += 1
    return flops / best


def measure_machine_rate(
    device: str = "cpu", dtype: torch.dtype = torch.float32, seconds: float = 1.0
) -> MachineRate:
    """Measure matmul and convolution FLOP/s of ``device`` in ``dtype``.

    The matmul is square (1024 on the CPU, 8192 on a GPU: large enough to reach the units'
    rate); the convolution is a 3 x 3, 32 -> 32 channels, on a batch of 128 x 128 maps on the
    CPU (4 x 64 channels of 256 x 256 on a GPU), the shape of the network's own layers.
    """
    gpu = device.startswith("cuda")
    n = 8192 if gpu else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    batch, channels, side = (4, 64, 256) if gpu else (4, 32, 128)
    maps = torch.randn(batch, channels, side, side, device=device, dtype=dtype)
    weight = torch.randn(channels, channels, 3, 3, device=device, dtype=dtype)
    conv_flops = 2.0 * batch * channels * channels * 9 * side * side
    with torch.inference_mode():
        matmul = _best_rate(lambda: a @ b, 2.0 * n**3, seconds, gpu)
        conv = _best_rate(
            lambda: torch.nn.functional.conv2d(maps, weight, padding=1), conv_flops, seconds, gpu
        )
    return MachineRate(
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        matmul_flops=matmul,
        conv_flops=conv,
        matmul_shape=(n, n, n),
        conv_shape=(batch, channels, side, side),
    )
