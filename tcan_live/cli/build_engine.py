"""``tcan-live build-engine``: compile a checkpoint or a zoo package into a checked engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tcan_live.cli.errors import one_line_errors, plain_console, step_logger

DEFAULT_TILE = 256


def build_engine(
    checkpoint: Annotated[
        Path,
        typer.Argument(help="A .safetensors checkpoint, or a BioImage.IO model.zip / rdf.yaml."),
    ],
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend", help="onnxruntime, tensorrt or torch (packages: onnxruntime default)."
        ),
    ] = None,
    precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 or bf16.")] = "fp32",
    tile: Annotated[int, typer.Option("--tile", help="Tile size the engine runs.")] = DEFAULT_TILE,
    halo: Annotated[int | None, typer.Option("--halo", help="Overlap (default: tile / 8).")] = None,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Largest tile batch.")] = 4,
    out: Annotated[
        Path | None, typer.Option("--out", help="Engine folder (default: engines/NAME).")
    ] = None,
    pixel_size: Annotated[
        float | None,
        typer.Option("--pixel-size", help="Packages: the model's pixel size in nm, if unstated."),
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option("--tolerance", help="Largest relative parity error.")
    ] = None,
    torch_compile: Annotated[
        bool, typer.Option("--torch-compile", help="Torch backend: torch.compile at load.")
    ] = False,
) -> None:
    """Export CHECKPOINT to ONNX, build the engine, check parity, write DIR/manifest.json.

    A BioImage.IO package (``model.zip`` or ``rdf.yaml``, 2D single-channel image-to-image,
    ONNX or a TCAN state dict) is imported instead: its processing, scale and halo go into the
    manifest, and its own test tensors check the engine.
    """
    from tcan_live.engine.build import build_engine as build

    console = plain_console()
    with one_line_errors(console):
        if checkpoint.suffix.lower() in (".zip", ".yaml", ".yml"):
            from tcan_live.bioimageio.importer import import_package

            result = import_package(
                checkpoint,
                out or Path("engines") / checkpoint.stem,
                backend=backend or "onnxruntime",
                tile=tile if tile != DEFAULT_TILE else None,
                halo=halo,
                max_batch=max_batch,
                pixel_size_nm=pixel_size,
                log=step_logger(console),
            )
        else:
            if backend is None:
                raise ValueError("--backend: choose onnxruntime, tensorrt or torch")
            target = out or Path("engines") / f"{checkpoint.stem}-{backend}-{precision}-{tile}"
            result = build(
                checkpoint,
                backend,
                target,
                precision=precision,  # type: ignore[arg-type]  # checked by build
                tile=tile,
                halo=halo,
                max_batch=max_batch,
                tolerance=tolerance,
                torch_compile=torch_compile,
                log=step_logger(console),
            )
    manifest = result.manifest
    parity = Table(title=f"Parity against {manifest.onnx_parity.reference}")
    for column in ("artefact", "device", "max abs error", "max rel error", "tolerance", ""):
        parity.add_column(column, justify="right" if "error" in column else "left")
    rows = [("model.onnx", manifest.onnx_parity)]
    if manifest.engine_file != manifest.onnx_file:
        rows.append((manifest.engine_file, manifest.parity))
    for name, figures in rows:
        parity.add_row(
            name,
            figures.device,
            f"{figures.max_abs_error:.3g}",
            f"{figures.max_rel_error:.3g}",
            f"{figures.tolerance:.3g}",
            Text("pass", style="green"),
        )
    console.print(parity)
    files = Table(title=f"Written to {result.folder}")
    files.add_column("file")
    files.add_column("bytes", justify="right")
    for name, size in result.files.items():
        files.add_row(name, f"{size:,}")
    console.print(files)
    console.print(
        f"{manifest.backend} {manifest.precision} engine: tile {manifest.tile}, halo "
        f"{manifest.halo}, batch {manifest.min_batch}..{manifest.max_batch}, scale "
        f"{manifest.scale}, {manifest.pixel_size_nm:g} nm training pixels"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("build-engine")(build_engine)
