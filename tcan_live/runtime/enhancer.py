"""The frame enhancer: pixel-size matching, normalisation, tiling, inference, confidence.

Frames arrive checked (:mod:`tcan_live.core.frame_check`: 2D, numeric, finite); the enhancer
tests only what depends on its engine: the pixel size against the training sampling, the
smallest frame the tiling takes and the largest output it may allocate. Each result can carry
its consistency with the frame (:mod:`.confidence`) and the input guards' warnings
(:mod:`.sampling_check`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from tcan_live.core.acquisition import Consistency, EnhanceResult
from tcan_live.core.frame_check import FrameRejected, check_image
from tcan_live.metrics.intensity import IntensityRange
from tcan_live.model import NormalizationSpec
from tcan_live.runtime.backend import InferenceBackend
from tcan_live.runtime.confidence import (
    DEFAULT_INPUT_FWHM_NM,
    ConfidenceSettings,
    ConsistencyChecker,
)
from tcan_live.runtime.normalize import NormalizationMode, Normalizer
from tcan_live.runtime.resample import resample_to_pixel_size, resampled_shape
from tcan_live.runtime.sampling_check import SamplingGuard
from tcan_live.runtime.tiling import TileAssembler, TilePlan, choose_tile

log = logging.getLogger(__name__)

OutputDtype = Literal["float32", "uint16"]
OUTPUT_DTYPES: tuple[OutputDtype, ...] = get_args(OutputDtype)


@dataclass(frozen=True)
class PixelSizePolicy:
    """How far a frame's pixel size may be from the training pixel size.

    ``ratio`` is ``max(p / p_train, p_train / p)``. Beyond ``warn_ratio`` the enhancer logs a
    warning once per stream (the model sees resampled data far from its training sampling);
    beyond ``max_ratio`` it refuses the frame.
    """

    warn_ratio: float = 3.0
    max_ratio: float = 10.0


@dataclass
class _Prepared:
    plan: TilePlan
    tiles: list[np.ndarray]
    intensity: IntensityRange
    input_dtype: np.dtype
    raw: np.ndarray
    pixel_size_nm: float
    matched_shape: tuple[int, int]
    warnings: tuple[str, ...]


class Enhancer:
    """Super-resolves 2D frames of one stream (one channel) with an inference backend.

    Parameters
    ----------
    backend
        Runs batches of normalised tiles (see :class:`~tcan_live.runtime.backend
        .InferenceBackend`).
    pixel_size_nm
        The engine's training pixel size; frames are resampled to it.
    normalization
        The engine's percentile normalisation.
    halo
        Tile overlap per side in input pixels.
    mode, fixed_range, fixed_frames, running_frames
        Normalisation mode of the stream (see :class:`~tcan_live.runtime.normalize.Normalizer`).
    output_dtype
        ``float32`` or ``uint16`` (rounded and clipped to 0..65535).
    pixel_size_policy
        Limits on the resampling ratio.
    max_output_pixels
        Refuse frames whose output would exceed this many pixels (bounded memory).
    input_fwhm_nm
        Resolution of the engine's training inputs (its manifest's ``input_fwhm_nm``; 250 nm
        when unknown), for the confidence map and the sampling guards.
    confidence
        Check every result against its frame (:attr:`EnhanceResult.consistency
        <tcan_live.core.acquisition.EnhanceResult.consistency>`); None or ``enabled = false``:
        off.
    sampling_guard
        Warn (in :attr:`EnhanceResult.warnings`) when the stream's frames are undersampled or
        their pixel size looks wrong; checked on the first frames at each pixel size.
    tile_sizes
        Tile sizes the backend runs (an engine compiled for several); each frame is tiled with
        the one whose plan costs the least (:func:`~tcan_live.runtime.tiling.choose_tile`).
        None: the backend's ``tile`` only.
    tile_costs
        The network's cost per computed pixel at each tile size (FLOPs); None: equal.
    """

    def __init__(
        self,
        backend: InferenceBackend,
        *,
        pixel_size_nm: float,
        normalization: NormalizationSpec,
        halo: int,
        mode: NormalizationMode = "per-frame",
        fixed_range: tuple[float, float] | None = None,
        fixed_frames: int = 5,
        running_frames: float = 5.0,
        output_dtype: OutputDtype = "float32",
        pixel_size_policy: PixelSizePolicy | None = None,
        max_output_pixels: int = 2**28,
        input_fwhm_nm: float | None = None,
        confidence: ConfidenceSettings | None = None,
        sampling_guard: bool = True,
        tile_sizes: Sequence[int] | None = None,
        tile_costs: Mapping[int, float] | None = None,
    ) -> None:
        if output_dtype not in OUTPUT_DTYPES:
            raise ValueError(f"output_dtype {output_dtype!r}: expected float32 or uint16")
        self.backend = backend
        self.pixel_size_nm = pixel_size_nm
        self.halo = halo
        self.tile_sizes = tuple(tile_sizes) if tile_sizes else (backend.tile,)
        self.tile_costs = dict(tile_costs) if tile_costs else None
        self.output_dtype = output_dtype
        self.policy = pixel_size_policy or PixelSizePolicy()
        self.max_output_pixels = max_output_pixels
        self.normalizer = Normalizer(
            normalization,
            mode,
            fixed_range=fixed_range,
            fixed_frames=fixed_frames,
            running_frames=running_frames,
        )
        self._warned_ratio = False
        fwhm = input_fwhm_nm or DEFAULT_INPUT_FWHM_NM
        self.checker = (
            ConsistencyChecker(confidence, fwhm) if confidence and confidence.enabled else None
        )
        self.guard = SamplingGuard(fwhm) if sampling_guard else None

    @property
    def output_pixel_size_nm(self) -> float:
        """Pixel size of every result: training pixel size / scale."""
        return self.pixel_size_nm / self.backend.scale

    def enhance(self, frame: np.ndarray, pixel_size_nm: float | None = None) -> EnhanceResult:
        """Super-resolve one 2D frame whose pixels are ``pixel_size_nm`` wide.

        The frame is checked first (any numeric type; 2D, finite), as anything handed in from
        outside the daemon.

        Raises
        ------
        FrameRejected
            If the frame is not a finite 2D numeric image of a usable size, or its pixel size
            is missing or outside the policy's ratio.
        """
        return self.enhance_many([(check_image(frame, dtypes=None), pixel_size_nm)])[0]

    def enhance_many(
        self, frames: Sequence[tuple[np.ndarray, float | None]]
    ) -> list[EnhanceResult]:
        """Super-resolve several checked frames of this stream, batching their tiles together.

        The frames must have passed the frame check (the daemon's sources apply it); only
        what depends on the engine is tested here (see :meth:`check`).
        """
        prepared = [self._prepare(frame, size) for frame, size in frames]
        assemblers = [TileAssembler(p.plan) for p in prepared]
        batch_size = self.backend.max_batch
        for size in sorted({p.plan.tile for p in prepared}):  # a batch holds one tile size
            queue = [
                (index, tile)
                for index, p in enumerate(prepared)
                if p.plan.tile == size
                for tile in p.tiles
            ]
            for first in range(0, len(queue), batch_size):
                chunk = queue[first : first + batch_size]
                outputs = self.backend.run(np.stack([tile for _, tile in chunk])[:, None])
                for (index, _), output in zip(chunk, outputs, strict=True):
                    assemblers[index].add(output[0])
        return [
            self._finish(p, assembler.result())
            for p, assembler in zip(prepared, assemblers, strict=True)
        ]

    def _check_pixel_size(self, pixel_size_nm: float | None) -> float:
        if pixel_size_nm is None:
            raise FrameRejected(
                "pixel size unknown: pass pixel_size_nm (the frame's metadata has none) so the "
                f"frame can be matched to the engine's {self.pixel_size_nm:g} nm"
            )
        if not math.isfinite(pixel_size_nm) or pixel_size_nm <= 0:
            raise FrameRejected(f"pixel size {pixel_size_nm!r} nm: expected a positive number")
        ratio = max(pixel_size_nm / self.pixel_size_nm, self.pixel_size_nm / pixel_size_nm)
        if ratio > self.policy.max_ratio:
            raise FrameRejected(
                f"pixel size {pixel_size_nm:g} nm is {ratio:.1f}x from the engine's "
                f"{self.pixel_size_nm:g} nm (limit {self.policy.max_ratio:g}x): wrong metadata, "
                "or use an engine trained nearer this sampling"
            )
        if ratio > self.policy.warn_ratio and not self._warned_ratio:
            self._warned_ratio = True
            log.warning(
                "pixel size %g nm is %.1fx from the engine's %g nm: frames are resampled that far",
                pixel_size_nm,
                ratio,
                self.pixel_size_nm,
            )
        return pixel_size_nm

    def _check_size(self, frame: np.ndarray) -> None:
        if min(frame.shape) < 8:
            raise FrameRejected(f"frame of shape {frame.shape}: expected at least 8 x 8 pixels")

    def check(self, frame: np.ndarray, pixel_size_nm: float | None) -> float:
        """Raise :class:`FrameRejected` if ``frame`` cannot be enhanced; return its pixel size.

        Touches no stream state (normalisation statistics), so a pipeline can sort out bad
        frames before batching the good ones.
        """
        self._check_size(frame)
        size = self._check_pixel_size(pixel_size_nm)
        height, width = self.output_shape(frame.shape, size)
        if height * width > self.max_output_pixels:
            raise FrameRejected(
                f"frame {frame.shape} at {size:g} nm would give a {height} x {width} output, "
                f"over the {self.max_output_pixels:,} pixel limit"
            )
        return size

    def output_shape(self, shape: tuple[int, ...], pixel_size_nm: float) -> tuple[int, int]:
        """Shape of the result for a frame of ``shape`` whose pixels are ``pixel_size_nm``."""
        height, width = resampled_shape((shape[0], shape[1]), pixel_size_nm / self.pixel_size_nm)
        return height * self.backend.scale, width * self.backend.scale

    def measure(self, frame: np.ndarray) -> IntensityRange:
        """Return a checked frame's own intensity range, as this stream's normalisation sees it.

        Touches no stream state: with :meth:`Normalizer.follow
        <tcan_live.runtime.normalize.Normalizer.follow>` a stream's ranges can be computed from
        frames measured elsewhere, then passed back as ``fixed_range`` (``tcan-live batch``).
        """
        return self.normalizer.measure(_float_pixels(frame))

    def _prepare(self, frame: np.ndarray, pixel_size_nm: float | None) -> _Prepared:
        size = self.check(frame, pixel_size_nm)
        scale = self.backend.scale
        raw = _float_pixels(frame)
        intensity = self.normalizer.range_for(raw)
        matched = resample_to_pixel_size(raw, size, self.pixel_size_nm)
        shape = (matched.shape[0], matched.shape[1])
        tile = choose_tile(shape, self.tile_sizes, self.halo, self.tile_costs)
        plan = TilePlan.for_frame(shape, tile, self.halo, scale)
        tiles = list(plan.tiles(intensity.normalize(matched)))
        warnings = self.guard.check(raw, size) if self.guard is not None else ()
        return _Prepared(plan, tiles, intensity, frame.dtype, raw, size, shape, warnings)

    def _finish(self, prepared: _Prepared, output: np.ndarray) -> EnhanceResult:
        image = prepared.intensity.denormalize(output)
        consistency: Consistency | None = None
        if self.checker is not None:
            consistency = self.checker.check(
                prepared.raw,
                prepared.pixel_size_nm,
                image,
                prepared.matched_shape,
                integer_counts=np.issubdtype(prepared.input_dtype, np.integer),
            )
        if self.output_dtype == "uint16":
            image = np.clip(np.rint(image), 0, 65535).astype(np.uint16)
        return EnhanceResult(
            image=image,
            pixel_size_nm=self.output_pixel_size_nm,
            consistency=consistency,
            warnings=prepared.warnings,
        )


def _float_pixels(frame: np.ndarray) -> np.ndarray:
    """Return the frame as the network's arithmetic sees it: float32 (no copy if it is)."""
    return frame.astype(np.float32, copy=False)
