"""The per-epoch training log: a CSV file and a loss-curve PNG drawn from it."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = (
    "epoch",
    "step",
    "phase",
    "loss_g",
    "loss_pixel",
    "loss_ssim",
    "loss_physics",
    "loss_adv",
    "loss_d",
    "val_loss",
    "val_psnr",
    "val_ssim",
    "lr_g",
    "lr_d",
    "time_s",
)

Row = dict[str, str]


def read_rows(path: Path, before_epoch: int) -> list[Row]:
    """Rows of an existing log for epochs < ``before_epoch`` (what a resumed run keeps)."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["epoch"]) < before_epoch]


def write_rows(path: Path, rows: list[Row]) -> None:
    """Write the whole log (rewritten each epoch: it is small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def plot_rows(rows: list[Row], path: Path) -> None:
    """Draw training and validation loss curves per epoch into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) + 1 for row in rows]
    figure, (losses, quality) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for column, label in (
        ("loss_pixel", "train pixel"),
        ("val_loss", "validation pixel"),
        ("loss_g", "train generator (total)"),
        ("loss_d", "train discriminator"),
    ):
        losses.plot(epochs, [float(row[column]) for row in rows], marker="o", label=label)
    losses.set_yscale("log")
    losses.set_xlabel("epoch")
    losses.set_ylabel("loss")
    losses.legend()
    quality.plot(epochs, [float(row["val_psnr"]) for row in rows], marker="o", color="C4")
    quality.set_xlabel("epoch")
    quality.set_ylabel("validation PSNR (dB)", color="C4")
    ssim_axis = quality.twinx()
    ssim_axis.plot(epochs, [float(row["val_ssim"]) for row in rows], marker="s", color="C5")
    ssim_axis.set_ylabel("validation SSIM", color="C5")
    for axis in (losses, quality):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.savefig(path, dpi=100)
    plt.close(figure)
