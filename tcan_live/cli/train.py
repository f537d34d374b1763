"""``tcan-live train``: train a TCAN GAN from a TOML configuration."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tcan_live.cli.errors import one_line_errors, plain_console

if TYPE_CHECKING:
    from tcan_live_training.config import TrainConfig


def train(
    config: Annotated[Path, typer.Option("--config", help="Training configuration (TOML).")],
    init: Annotated[
        Path | None,
        typer.Option(
            "--init", help="Start from this checkpoint (same architecture; transfer learning)."
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from OUT/last.safetensors.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: runs/<config name>).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    time_steps: Annotated[
        int,
        typer.Option(
            "--time-steps",
            min=0,
            help="Only measure: time N training steps of each phase and estimate the run time.",
        ),
    ] = 0,
) -> None:
    """Train a generator and discriminator; writes best/last checkpoints, log.csv and loss.png.

    Data-parallel on several processes or GPUs: ``torchrun --nproc-per-node N --no-python
    tcan-live train --config ...`` (the same global batch, split over the processes).
    """
    from tcan_live_training.config import load_train_config
    from tcan_live_training.distributed import Ranks
    from tcan_live_training.trainer import time_steps as measure_steps
    from tcan_live_training.trainer import train as run_training

    console = plain_console(stderr=True)
    with one_line_errors(console):
        settings = load_train_config(config)
        if time_steps:
            _report_timing(settings, measure_steps(settings, time_steps), time_steps)
            return
        outcome = run_training(
            settings,
            out or Path("runs") / settings.name,
            init=init,
            resume=resume,
            command=shlex.join(["tcan-live", *sys.argv[1:]]),
            config_text=config.read_text(encoding="utf-8"),
            progress=not quiet,
        )
    if Ranks.from_environment().writer:  # under torchrun: once, from the process that wrote
        typer.echo(
            f"trained {outcome.epochs} epochs ({outcome.steps} steps); best validation loss "
            f"{outcome.best_val_loss:.5g} at epoch {outcome.best_epoch + 1}: {outcome.best}"
        )


def _report_timing(settings: TrainConfig, timing: dict[str, float], steps: int) -> None:
    epochs = settings.training.epochs
    typer.echo(
        f"{settings.name}: {timing['warmup_step_s']:.3f} s per warm-up step, "
        f"{timing['gan_step_s']:.3f} s per GAN step (mean of {steps}; patch "
        f"{settings.data.patch_size}, batch {settings.data.batch_size}, "
        f"{timing['threads']:.0f} threads), validation {timing['validation_s']:.2f} s"
    )
    typer.echo(
        f"estimate: {timing['epoch_s']:.0f} s per GAN epoch; {epochs} epochs "
        f"({settings.loss.warmup_epochs} warm-up) ~ {timing['run_s'] / 60:.1f} min"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("train")(train)
