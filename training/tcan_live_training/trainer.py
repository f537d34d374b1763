"""The training run: data, epochs, validation, checkpoints, CSV log and loss curves.

``train`` is what ``tcan-live train`` calls. Output folder::

    OUT/last.safetensors   every epoch, with everything needed to --resume
    OUT/best.safetensors   the epoch with the lowest validation pixel loss
    OUT/log.csv            one row per epoch
    OUT/loss.png           loss and validation curves
    OUT/config.toml        a copy of the configuration file (when trained from one)

Under ``torchrun --nproc-per-node N`` the run is data-parallel
(:mod:`tcan_live_training.distributed`): the same global batches, split over the processes,
gradients averaged; rank 0 alone writes the folder.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tcan_live.simulate import preset as simulation_preset
from tcan_live.simulate import simulate_pair
from tcan_live_training.checkpoints import (
    RunState,
    TrainingError,
    initialize_from,
    resume_training,
    save_training_checkpoint,
)
from tcan_live_training.config import TrainConfig
from tcan_live_training.data import (
    Augmentation,
    BatchMaker,
    FolderPairs,
    PairSource,
    SimulatedPairs,
    WithEmptyFields,
    find_pairs,
    split_groups,
)
from tcan_live_training.data.sources import STREAM_EMPTY_FIELDS, STREAM_VALIDATION_SIMULATION
from tcan_live_training.data.units import fitted_map
from tcan_live_training.distributed import Ranks, backend_name, process_group, summed
from tcan_live_training.gan import TcanGan, validation_metrics
from tcan_live_training.history import Row, plot_rows, read_rows, write_rows
from tcan_live_training.schedule import learning_rate_factor

LAST = "last.safetensors"
BEST = "best.safetensors"
LOG = "log.csv"
CURVES = "loss.png"


@dataclass
class TrainOutcome:
    """Where a finished run left its files and how it ended."""

    out_dir: Path
    last: Path
    best: Path
    epochs: int
    steps: int
    best_val_loss: float
    best_epoch: int
    rows: list[Row]


def resolve_device(name: str, ranks: Ranks | None = None) -> torch.device:
    """``auto`` picks CUDA when present; asking for ``cuda`` without one is an error.

    On CUDA each process of a data-parallel run takes the GPU of its local rank.
    """
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("training.device = 'cuda' but no CUDA device is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and ranks is not None and ranks.parallel:
        torch.cuda.set_device(ranks.local_rank)
        return torch.device("cuda", ranks.local_rank)
    return torch.device(name)


def hardware(device: torch.device) -> dict[str, Any]:
    """Describe the machine a run trains on (stored in its checkpoints)."""
    info: dict[str, Any] = {
        "device": device.type,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


@dataclass
class _Data:
    train: BatchMaker
    validation: list[tuple[torch.Tensor, torch.Tensor]]
    steps_per_epoch: int
    batch_size: int
    description: dict[str, Any]
    physics_sigma_px: float | None = None


def _physics_sigma(config: TrainConfig, train: PairSource) -> float | None:
    """Return the physics term's re-blur (LR pixels): configured, or fitted on the data."""
    loss, data = config.loss, config.data
    if loss.physics_weight == 0:
        return None
    if loss.physics_sigma_px is not None:
        return loss.physics_sigma_px
    if isinstance(train, WithEmptyFields):
        train = train.real  # fitted on the real pairs; empty fields have nothing to fit
    if isinstance(train, FolderPairs):
        sigmas = [m.sigma_px for m in train.maps] or [
            fitted_map(*train.pair(i, 0)).sigma_px for i in range(len(train))
        ]
        return float(np.median(sigmas))
    # One nominal sample of the configured physics, noise-free: the LR's PSF less the HR's.
    physics = data.simulation_config()
    rng = np.random.default_rng([config.training.seed, 5])
    size = max(data.patch_size, 128) * physics.scale
    sample = simulate_pair(data.structures[0], size, rng, physics)
    return fitted_map(sample.lr_clean, sample.gt).sigma_px


def _sources(config: TrainConfig, steps: int | None) -> tuple[PairSource, PairSource]:
    data, seed, scale = config.data, config.training.seed, config.model.scale
    if data.kind == "simulated":
        physics = data.simulation_config()
        count = (steps or 100) * data.batch_size
        train = SimulatedPairs(
            data.structures,
            data.patch_size,
            physics,
            data.normalization,
            seed=seed,
            count=count,
            fresh_each_epoch=data.fresh_each_epoch,
            target=data.target,
            target_units=data.target_units,
            variety=data.variety,
        )
        validation = SimulatedPairs(
            data.structures,
            data.val_size,
            physics,
            data.normalization,
            seed=seed,
            count=data.validation_samples,
            stream=STREAM_VALIDATION_SIMULATION,
            fresh_each_epoch=False,
            target=data.target,
            target_units=data.target_units,
            variety=data.variety,
        )
        return train, validation
    assert data.path is not None  # checked by the config
    pattern = {"layout": data.layout, "lr_pattern": data.lr_pattern, "hr_pattern": data.hr_pattern}
    pairs = find_pairs(data.path, **pattern)  # type: ignore[arg-type]
    if data.validation_path is not None:
        held_out = find_pairs(data.validation_path, **pattern)  # type: ignore[arg-type]
    else:
        unknown = sorted(set(data.heldout) - {pair.group for pair in pairs})
        if unknown:
            raise ValueError(f"heldout: no field named {unknown[0]!r} under {data.path}")
        pairs = [pair for pair in pairs if pair.group not in data.heldout]
        pairs, held_out = split_groups(pairs, data.validation_fraction, seed)
    options = {
        "target_units": data.target_units,
        "registration": data.registration,
        "resample_to_nm": data.resample_to_nm,
    }
    real = FolderPairs(pairs, scale, data.normalization, data.pixel_size_nm, **options)  # type: ignore[arg-type]
    held = FolderPairs(held_out, scale, data.normalization, data.pixel_size_nm, **options)  # type: ignore[arg-type]
    return _with_empty_fields(config, real, steps), held


def _with_empty_fields(config: TrainConfig, real: FolderPairs, steps: int | None) -> PairSource:
    """Mix ``data.empty_fields`` simulated noise-only fields into the real training pairs."""
    data, scale = config.data, config.model.scale
    empty = data.empty_fields
    if empty is None:
        return real
    # The simulator on the pairs' (resampled) input grid, so empty fields match their pixels.
    physics = simulation_preset(
        empty.simulation_preset,
        pixel_size_nm=data.input_pixel_size_nm() / scale,
        scale=scale,
    )
    count = steps * data.batch_size if steps else math.ceil(len(real) / (1.0 - empty.fraction))
    fields = SimulatedPairs(
        ("empty",),
        data.patch_size,
        physics,
        data.normalization,
        seed=config.training.seed,
        count=count,
        stream=STREAM_EMPTY_FIELDS,
        target="gt",
        target_units=data.target_units,
        variety=empty.variety(),
    )
    return WithEmptyFields(real, fields, empty.fraction, seed=config.training.seed, count=count)


def prepare_data(config: TrainConfig) -> _Data:
    """Build the training batch maker and the fixed validation batches."""
    data = config.data
    try:
        train, validation = _sources(config, config.training.steps_per_epoch)
    except ValueError as error:
        raise TrainingError(f"data: {error}") from None
    steps = config.training.steps_per_epoch or -(-len(train) // data.batch_size)
    augmentation = Augmentation(**data.augment.model_dump())
    maker = BatchMaker(
        train, data.patch_size, config.model.scale, augmentation, config.training.seed
    )
    validation_maker = BatchMaker(
        validation, data.val_size, config.model.scale, augmentation, config.training.seed
    )
    try:
        validation_batches = validation_maker.all_centre_crops(data.batch_size)
    except ValueError as error:
        raise TrainingError(f"data (validation): {error}") from None
    description = {
        "train": train.describe(),
        "validation": validation.describe(),
        "patch_size": data.patch_size,
        "validation_size": data.val_size,
        "batch_size": data.batch_size,
        "scale": config.model.scale,
        "augment": data.augment.model_dump(),
        "input_pixel_size_nm": data.input_pixel_size_nm(),
        "path": str(data.path) if data.path else None,
        "validation_path": str(data.validation_path) if data.validation_path else None,
        "normalization": (
            "LR and HR each mapped with their own percentiles (low -> 0, high -> 1); the "
            "runtime maps outputs back with the input's: output * (hi - lo) + lo"
            if data.target_units == "own"
            else "target mapped linearly into the LR's units, then LR and target both mapped "
            "with the LR's percentile range (noise floor included); the runtime maps outputs "
            "back with the input's: output * (hi - lo) + lo"
        ),
        "heldout": list(data.heldout),
    }
    sigma = _physics_sigma(config, train)
    description["physics_sigma_px"] = sigma
    return _Data(maker, validation_batches, steps, data.batch_size, description, sigma)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Use ``count`` intra-op threads inside the block (None: leave as is), then restore."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _EpochBar:
    """A rich progress bar over one epoch's steps, or nothing when disabled."""

    def __init__(self, enabled: bool, steps: int) -> None:
        self._bar = (
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[status]}"),
            )
            if enabled
            else None
        )
        self._task = self._bar.add_task("", total=steps, status="") if self._bar else None

    def __enter__(self) -> _EpochBar:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, description: str) -> None:
        """Begin a new epoch."""
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, description=description)

    def advance(self, status: str) -> None:
        """Count one step."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, status=status)

    def note(self, line: str) -> None:
        """Print a line above the bar."""
        if self._bar is not None:
            self._bar.console.print(line)


def _train_epoch(
    gan: TcanGan, data: _Data, epoch: int, adversarial: bool, bar: _EpochBar, ranks: Ranks
) -> dict[str, float]:
    """Run one epoch's steps on this process's share of each batch; return each loss's mean.

    The means are over the global batches: each process's are averaged across processes.
    """
    sums: dict[str, float] = {}
    order = data.train.epoch_order(epoch, data.steps_per_epoch, data.batch_size)
    opt = gan.config.training
    total_steps = opt.epochs * data.steps_per_epoch
    for step, indices in enumerate(order):
        gan.scale_learning_rates(
            learning_rate_factor(
                opt.lr_schedule,
                epoch * data.steps_per_epoch + step,
                total_steps,
                opt.min_lr_fraction,
            )
        )
        share, first_slot = ranks.shard(indices)
        lr, hr = data.train.batch(share, epoch, step, first_slot)
        losses = gan.train_step(lr.to(gan.device), hr.to(gan.device), adversarial)
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + value
        bar.advance(f"loss {losses['loss_g']:.4g}")
    keys = list(sums)
    total = summed([sums[key] for key in keys], ranks, gan.device)
    return {
        key: value / (len(order) * ranks.world_size) for key, value in zip(keys, total, strict=True)
    }


def _validate(gan: TcanGan, data: _Data, ranks: Ranks) -> dict[str, float]:
    """Return the whole set's validation figures; each process validates its share of it."""
    share = [data.validation[i] for i in ranks.share(data.validation)]
    return validation_metrics(summed(gan.validation_sums(share), ranks, gan.device))


def _numbers(values: dict[str, float]) -> dict[str, str]:
    return {key: f"{value:.6g}" for key, value in values.items()}


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    init: str | Path | None = None,
    resume: bool = False,
    command: str = "",
    config_text: str | None = None,
    progress: bool = True,
    ranks: Ranks | None = None,
) -> TrainOutcome:
    """Train a TCAN GAN as configured, writing checkpoints and logs into ``out_dir``.

    Parameters
    ----------
    config
        The validated configuration.
    out_dir
        Output folder (created).
    init
        A checkpoint of the same architecture to start from (transfer learning).
    resume
        Continue from ``out_dir/last.safetensors`` (bit-identical on CPU for a fixed seed).
    command
        The command line, recorded in the checkpoints.
    config_text
        The configuration file's text, copied to ``out_dir/config.toml`` and the checkpoints.
    progress
        Show a rich progress bar.
    ranks
        This process's place in a data-parallel run (default: from torchrun's environment;
        one process without it).

    Raises
    ------
    TrainingError
        For unusable data, devices, ``--init`` or ``--resume`` files, or a batch that does not
        split over the processes.
    """
    if init is not None and resume:
        raise TrainingError("--init and --resume exclude each other (resume keeps its weights)")
    ranks = ranks or Ranks.from_environment()
    try:
        ranks.local_batch(config.data.batch_size)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    device = resolve_device(config.training.device, ranks)
    with torch_threads(config.training.threads), process_group(ranks, device):
        return _train(
            config, Path(out_dir), init, resume, command, config_text, progress, ranks, device
        )


def _train(
    config: TrainConfig,
    out: Path,
    init: str | Path | None,
    resume: bool,
    command: str,
    config_text: str | None,
    progress: bool,
    ranks: Ranks,
    device: torch.device,
) -> TrainOutcome:
    torch.manual_seed(config.training.seed)
    gan = TcanGan(config, device)
    state = RunState()
    init_info: dict[str, Any] | None = None
    if resume:
        state = resume_training(out / LAST, gan, config)
    elif init is not None:
        init_info = initialize_from(Path(init), gan)
    data = prepare_data(config)  # the data draws no torch random numbers
    gan.physics_sigma_px = data.physics_sigma_px
    if ranks.parallel:
        gan.data_parallel()  # after resume and --init: every process starts from those weights
    if ranks.writer:
        out.mkdir(parents=True, exist_ok=True)
        if config_text is not None:
            (out / "config.toml").write_text(config_text, encoding="utf-8")
    rows = read_rows(out / LOG, before_epoch=state.epoch)
    base_training = {
        "config": config.model_dump(mode="json"),
        "config_text": config_text,
        "command": command,
        "hardware": hardware(device),
        "amp": str(gan.amp_dtype).removeprefix("torch.") if gan.amp_dtype else "none",
        "discriminator": config.model.discriminator.model_dump(mode="json"),
        "init": init_info,
    }
    if ranks.parallel:
        base_training["data_parallel"] = {
            "processes": ranks.world_size,
            "backend": backend_name(ranks),
            "batch_per_process": ranks.local_batch(data.batch_size),
        }
    epochs = config.training.epochs
    with _EpochBar(progress and ranks.writer, data.steps_per_epoch) as bar:
        for epoch in range(state.epoch, epochs):
            started = time.perf_counter()
            adversarial = epoch >= config.loss.warmup_epochs and config.loss.adversarial_weight > 0
            bar.start(f"epoch {epoch + 1}/{epochs} ({'GAN' if adversarial else 'warm-up'})")
            means = _train_epoch(gan, data, epoch, adversarial, bar, ranks)
            validation = _validate(gan, data, ranks)
            state.step += data.steps_per_epoch
            state.elapsed_s += time.perf_counter() - started
            state.epoch = epoch + 1
            improved = validation["val_loss"] < state.best_val_loss
            if improved:
                state.best_val_loss, state.best_epoch = validation["val_loss"], epoch
            rows.append(
                {
                    "epoch": str(epoch),
                    "step": str(state.step),
                    "phase": "gan" if adversarial else "warmup",
                    **_numbers(means),
                    **_numbers(validation),
                    "lr_g": f"{gan.optimizer_g.param_groups[0]['lr']:.6g}",
                    "lr_d": f"{gan.optimizer_d.param_groups[0]['lr']:.6g}",
                    "time_s": f"{state.elapsed_s:.2f}",
                }
            )
            training = base_training | {
                "epochs_completed": state.epoch,
                "steps_completed": state.step,
                "training_time_s": round(state.elapsed_s, 2),
                "validation": validation,
                "best_epoch": state.best_epoch,
                "best_val_loss": state.best_val_loss,
            }
            if not ranks.writer:
                continue  # every process holds the same weights and figures; rank 0 writes
            # last: every epoch, resumable; best: generator and discriminator only.
            for name, resumable in [(LAST, True)] + ([(BEST, False)] if improved else []):
                save_training_checkpoint(
                    out / name,
                    gan,
                    config=config,
                    state=state,
                    description=data.description,
                    training=training,
                    resumable=resumable,
                )
            write_rows(out / LOG, rows)
            plot_rows(rows, out / CURVES)
            bar.note(
                f"epoch {epoch + 1}: loss_g {means['loss_g']:.4g}  val_loss "
                f"{validation['val_loss']:.4g}  PSNR {validation['val_psnr']:.2f} dB  "
                f"SSIM {validation['val_ssim']:.3f}" + ("  (best)" if improved else "")
            )
    return TrainOutcome(
        out_dir=out,
        last=out / LAST,
        best=out / BEST,
        epochs=state.epoch,
        steps=state.step,
        best_val_loss=state.best_val_loss,
        best_epoch=state.best_epoch,
        rows=rows,
    )


def time_steps(config: TrainConfig, steps: int = 3) -> dict[str, float]:
    """Measure seconds per training step (both phases) and per validation pass.

    One untimed step of each phase runs first (allocations, PSF caches). Data preparation
    (simulation, cropping) is included in the step times, as in a real epoch.

    Returns
    -------
    dict
        ``warmup_step_s``, ``gan_step_s``, ``validation_s``, ``epoch_s`` (an epoch of
        ``steps_per_epoch`` GAN steps plus validation), ``run_s`` (all configured epochs,
        warm-up ones at the warm-up step time) and ``threads``.
    """
    if Ranks.from_environment().parallel:
        raise TrainingError("--time-steps measures one process: run it without torchrun")
    with torch_threads(config.training.threads):
        return _time_steps(config, steps)


def _time_steps(config: TrainConfig, steps: int) -> dict[str, float]:
    device = resolve_device(config.training.device)
    data = prepare_data(config)
    torch.manual_seed(config.training.seed)
    gan = TcanGan(config, device)
    gan.physics_sigma_px = data.physics_sigma_px
    order = data.train.epoch_order(0, steps + 1, config.data.batch_size)
    result: dict[str, float] = {}
    for name, adversarial in (("warmup_step_s", False), ("gan_step_s", True)):
        for step, indices in enumerate(order):
            if step == 1:
                started = time.perf_counter()
            lr, hr = data.train.batch(indices, 0, step)
            gan.train_step(lr.to(device), hr.to(device), adversarial)
        result[name] = (time.perf_counter() - started) / steps
    started = time.perf_counter()
    gan.validate(data.validation)
    result["validation_s"] = time.perf_counter() - started
    steps_per_epoch, epochs = data.steps_per_epoch, config.training.epochs
    warmup = min(config.loss.warmup_epochs, epochs)
    result["epoch_s"] = steps_per_epoch * result["gan_step_s"] + result["validation_s"]
    result["run_s"] = (
        warmup * steps_per_epoch * result["warmup_step_s"]
        + (epochs - warmup) * steps_per_epoch * result["gan_step_s"]
        + epochs * result["validation_s"]
    )
    result["threads"] = torch.get_num_threads()
    return result
