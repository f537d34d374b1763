"""An engine: an inference backend together with its manifest and frame enhancers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from tcan_live.core.acquisition import EnhanceResult
from tcan_live.engine.manifest import default_halo, per_pixel_costs
from tcan_live.model import NormalizationSpec, load_checkpoint
from tcan_live.model.complexity import flops_per_pixel_at
from tcan_live.runtime.backend import InferenceBackend
from tcan_live.runtime.enhancer import Enhancer


class Engine:
    """A loaded engine: enhance frames with ``engine.enhance`` or per-stream enhancers.

    Parameters
    ----------
    backend
        Runs normalised tiles.
    manifest
        What the engine is (at least ``scale``, ``pixel_size_nm``, ``normalization``,
        ``halo``); exposed read-only as :attr:`manifest`.
    """

    def __init__(self, backend: InferenceBackend, manifest: Mapping[str, Any]) -> None:
        self.backend = backend
        self.manifest: Mapping[str, Any] = MappingProxyType(dict(manifest))
        self.normalization = NormalizationSpec.model_validate(manifest["normalization"])
        self._default: Enhancer | None = None

    @property
    def scale(self) -> int:
        """Output pixels per input pixel along each axis."""
        return int(self.manifest["scale"])

    @property
    def identity(self) -> str:
        """The model this engine runs: its name and checkpoint hash (backend aside)."""
        digest = str(self.manifest.get("checkpoint_sha256", "unknown"))[:16]
        return f"{self.manifest.get('model_name', 'unnamed')} (checkpoint sha256 {digest})"

    @property
    def pixel_size_nm(self) -> float:
        """The training pixel size that frames are resampled to."""
        return float(self.manifest["pixel_size_nm"])

    @property
    def tile_sizes(self) -> tuple[int, ...]:
        """Every tile size the backend runs: the manifest's ``tile`` and ``extra_tiles``."""
        extra = self.manifest.get("extra_tiles") or ()
        return (int(self.manifest["tile"]), *(int(variant["tile"]) for variant in extra))

    @property
    def tile_costs(self) -> dict[int, float] | None:
        """Cost per computed pixel of each tile size, when the manifest records them."""
        sizes = [self.manifest, *(self.manifest.get("extra_tiles") or ())]
        return per_pixel_costs(
            self.tile_sizes,
            [size.get("seconds_per_pixel") for size in sizes],
            [size.get("flops_per_pixel") for size in sizes],
        )

    def enhancer(self, **options: Any) -> Enhancer:
        """Return a new enhancer for one frame stream (e.g. one channel of a time-lapse).

        ``options`` are :class:`~tcan_live.runtime.enhancer.Enhancer` keyword arguments
        (``mode``, ``fixed_range``, ``running_frames``, ``output_dtype``, ...).
        """
        return Enhancer(
            self.backend,
            pixel_size_nm=self.pixel_size_nm,
            normalization=self.normalization,
            halo=int(self.manifest["halo"]),
            input_fwhm_nm=self.manifest.get("input_fwhm_nm"),
            tile_sizes=self.tile_sizes,
            tile_costs=self.tile_costs,
            **options,
        )

    def enhance(self, frame: np.ndarray, pixel_size_nm: float | None = None) -> EnhanceResult:
        """Super-resolve one independent frame (per-frame normalisation, float32 output)."""
        if self._default is None:
            self._default = self.enhancer()
        return self._default.enhance(frame, pixel_size_nm)

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        tile: int = 256,
        halo: int | None = None,
        max_batch: int = 4,
        device: str = "cpu",
        extra_tiles: tuple[int, ...] = (),
    ) -> Engine:
        """Run a checkpoint in torch eager fp32 as an engine (no build step).

        Used as the reference in benchmarks and by ``tcan-live evaluate --checkpoint``;
        ``extra_tiles`` lets it tile frames as an engine with those tile sizes does (with the
        same FLOP costs per tile, so it picks the same tile per frame size).
        """
        from tcan_live.engine.torch_eager import TorchEagerBackend

        checkpoint = load_checkpoint(path, device=device)
        meta = checkpoint.meta

        def cost(size: int) -> float | None:
            return flops_per_pixel_at(meta.architecture, size) if extra_tiles else None

        backend = TorchEagerBackend(checkpoint.generator, tile, max_batch, device)
        manifest = {
            "model_name": meta.model_name,
            "preset": meta.architecture.preset,
            "architecture": meta.architecture.model_dump(mode="json"),
            "scale": meta.scale,
            "pixel_size_nm": meta.pixel_size_nm,
            "normalization": meta.normalization.model_dump(mode="json"),
            "input_fwhm_nm": meta.input_fwhm_nm,
            "tile": tile,
            "halo": default_halo(min((tile, *extra_tiles))) if halo is None else halo,
            "extra_tiles": [{"tile": size, "flops_per_pixel": cost(size)} for size in extra_tiles],
            "flops_per_pixel": cost(tile) if extra_tiles else None,
            "max_batch": max_batch,
            "precision": "fp32",
            "backend": "torch-eager",
        }
        return cls(backend, manifest)
