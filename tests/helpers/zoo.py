"""A BioImage.IO package of a network that is not TCAN, made by the test itself.

A two-level U-net with random weights (seeded), exported to ONNX with its own tensor names and
a min + step input size, described as the zoo describes a 2D single-channel denoiser: percentile
``scale_range`` preprocessing, micrometre pixel size, a halo, test tensors from onnxruntime.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from torch import nn

from tcan_live.bioimageio.export import scale_range
from tcan_live.bioimageio.quiet import closing_leaks
from tcan_live.engine.parity import filament_image
from tcan_live.model import NormalizationSpec

PIXEL_UM = 0.0625  # 62.5 nm: exact in binary, so the zoo's halo arithmetic stays integral
LOW, HIGH = 2.0, 99.5
TEST_SIDE = 48


class TinyUNet(nn.Module):
    """conv -> (pool -> conv -> upsample) -> concat -> conv, plus the input (a residual)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(1, 8, 3, padding=1)
        self.middle = nn.Conv2d(8, 8, 3, padding=1)
        self.up = nn.Conv2d(16, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = torch.relu(self.down(x))
        deep = torch.relu(self.middle(nn.functional.max_pool2d(skip, 2)))
        deep = nn.functional.interpolate(deep, scale_factor=2.0, mode="nearest")
        return x + 0.1 * self.up(torch.cat([skip, deep], dim=1))


def export_unet(path: Path) -> Path:
    torch.manual_seed(7)
    model = TinyUNet().eval()
    with warnings.catch_warnings():  # torch flags its TorchScript exporter as deprecated
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.rand(2, 1, 32, 32),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["restored"],
            dynamic_axes={"image": {0: "b", 2: "h", 3: "w"}, "restored": {0: "b", 2: "h", 3: "w"}},
        )
    return path


def unet_description(folder: Path, **changes: Any) -> Any:
    """The model description of the U-net package; ``changes`` replace top-level fields."""
    from bioimageio.spec.model.v0_5 import (
        AxisId,
        BatchAxis,
        ChannelAxis,
        FileDescr,
        Identifier,
        InputTensorDescr,
        LicenseId,
        ModelDescr,
        OnnxWeightsDescr,
        OutputTensorDescr,
        ParameterizedSize,
        ScaleRangeDescr,
        ScaleRangeKwargs,
        SizeReference,
        SpaceInputAxis,
        SpaceOutputAxisWithHalo,
        TensorId,
        WeightsDescr,
    )

    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = export_unet(folder / "unet.onnx")
    image = 50 + 2000 * filament_image(TEST_SIDE, np.random.default_rng(3))
    test_input = image.astype(np.float32)[None, None]
    session = onnxruntime.InferenceSession(
        onnx_path.read_bytes(), providers=["CPUExecutionProvider"]
    )
    spec = NormalizationSpec(low_percentile=LOW, high_percentile=HIGH)
    (test_output,) = session.run(None, {"image": scale_range(test_input, spec)})
    np.save(folder / "in.npy", test_input)
    np.save(folder / "out.npy", np.asarray(test_output, np.float32))
    (folder / "README.md").write_text("# tiny U-net\n\nA two-level U-net with random weights.\n")
    axes_in = [
        SpaceInputAxis(
            id=AxisId(a), size=ParameterizedSize(min=16, step=8), unit="micrometer", scale=PIXEL_UM
        )
        for a in ("y", "x")
    ]
    axes_out = [
        SpaceOutputAxisWithHalo(
            id=AxisId(a),
            size=SizeReference(tensor_id=TensorId("image"), axis_id=AxisId(a)),
            unit="micrometer",
            scale=PIXEL_UM,
            halo=6,
        )
        for a in ("y", "x")
    ]
    channel = ChannelAxis(channel_names=[Identifier("fluorescence")])
    fields: dict[str, Any] = {
        "name": "tiny U-net denoiser",
        "description": "A small U-net, not TCAN, for testing zoo imports",
        "authors": [{"name": "the tcan-live test suite"}],
        "cite": [
            {"text": "Ronneberger O. et al. U-Net (2015)", "doi": "10.1007/978-3-319-24574-4_28"}
        ],
        "license": LicenseId("MIT"),
        "documentation": FileDescr(source=folder / "README.md"),
        "inputs": [
            InputTensorDescr(
                id=TensorId("image"),
                axes=[BatchAxis(), channel, *axes_in],
                test_tensor=FileDescr(source=folder / "in.npy"),
                preprocessing=[
                    ScaleRangeDescr(
                        kwargs=ScaleRangeKwargs(
                            axes=[AxisId("y"), AxisId("x")], min_percentile=LOW, max_percentile=HIGH
                        )
                    )
                ],
            )
        ],
        "outputs": [
            OutputTensorDescr(
                id=TensorId("restored"),
                axes=[BatchAxis(), channel, *axes_out],
                test_tensor=FileDescr(source=folder / "out.npy"),
            )
        ],
        "weights": WeightsDescr(onnx=OnnxWeightsDescr(source=onnx_path, opset_version=17)),
    }
    fields.update(changes)
    return ModelDescr(**fields)


def unet_package(folder: Path, **changes: Any) -> Path:
    """Write the U-net package ``folder/unet.zip`` (validated by bioimageio.spec)."""
    from bioimageio.spec import save_bioimageio_package

    with closing_leaks():
        description = unet_description(folder, **changes)
        return Path(save_bioimageio_package(description, output_path=folder / "unet.zip"))
