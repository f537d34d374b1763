"""``tcan-live build-engine``: compile a checkpoint or a zoo package into a checked engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tcan_live.cli.errors import one_line_errors, plain_console, step_logger

# Without --tile: 320 and 576 px tiles with a 32 px halo. 320 px tiles step by 256 (1.56x halo
# overhead on 256-2048 px frames); one or four 576 px tiles cover 512 and 1024 px frames with
# 1.27x, and the factored DFT spectrum costs about the same per pixel at both sizes, so the
# runtime takes 576 where its measured time per frame is lower (docs/engines.md).
DEFAULT_TILES = (320, 576)
DEFAULT_TILES_HALO = 32
PACKAGE_SUFFIXES = (".zip", ".yaml", ".yml")


def build_engine(
    checkpoint: Annotated[
        Path,
        typer.Argument(help="A .safetensors checkpoint, or a BioImage.IO model.zip / rdf.yaml."),
    ],
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="openvino, onnxruntime, tensorrt or torch (default: the CPU default, openvino "
            "where installed; packages: onnxruntime).",
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            help="fp32, fp16 or bf16 (default: the backend's on this machine; openvino: bf16 "
            "where the CPU has native bfloat16, else fp32; others: fp32).",
        ),
    ] = None,
    tile: Annotated[
        list[int] | None,
        typer.Option(
            "--tile",
            help="Tile size the engine runs; repeat for several, picked per frame size "
            f"(default: {' '.join(map(str, DEFAULT_TILES))} with halo {DEFAULT_TILES_HALO}).",
        ),
    ] = None,
    halo: Annotated[
        int | None, typer.Option("--halo", help="Overlap (default: smallest tile / 8).")
    ] = None,
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
    from tcan_live.engine.registry import backend_kind, cpu_default_backend

    console = plain_console()
    tiles = tuple(tile) if tile else DEFAULT_TILES
    if not tile and halo is None and checkpoint.suffix.lower() not in PACKAGE_SUFFIXES:
        halo = DEFAULT_TILES_HALO
    with one_line_errors(console):
        if checkpoint.suffix.lower() in PACKAGE_SUFFIXES:
            from tcan_live.bioimageio.importer import import_package

            if tile and len(tile) > 1:
                raise ValueError("--tile: a package is imported at one tile size")
            result = import_package(
                checkpoint,
                out or Path("engines") / checkpoint.stem,
                backend=backend or "onnxruntime",
                tile=tile[0] if tile else None,
                halo=halo,
                max_batch=max_batch,
                pixel_size_nm=pixel_size,
                log=step_logger(console),
            )
        else:
            backend = backend or cpu_default_backend()
            if out is None:  # the folder is named after what is built
                built = precision or backend_kind(backend).default_precision()[0]
                sizes = "-".join(map(str, tiles))
                out = Path("engines") / f"{checkpoint.stem}-{backend}-{built}-{sizes}"
            result = build(
                checkpoint,
                backend,
                out,
                precision=precision,  # type: ignore[arg-type]  # checked by build
                tile=tiles,
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
    rows = []
    for size in manifest.tile_sizes:
        single = manifest.for_tile(size)
        rows.append((f"{single.onnx_file} (tile {size})", single.onnx_parity))
        if single.parity != single.onnx_parity:
            rows.append((f"{single.engine_file} (tile {size})", single.parity))
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
        f"{manifest.backend} {manifest.precision} engine: tile "
        f"{' / '.join(map(str, manifest.tile_sizes))}, halo "
        f"{manifest.halo}, batch {manifest.min_batch}..{manifest.max_batch}, scale "
        f"{manifest.scale}, {manifest.pixel_size_nm:g} nm training pixels"
    )


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("build-engine")(build_engine)
