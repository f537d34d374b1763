import pytest
import torch

from tcan_live.model import build_generator, generator_config
from tcan_live.model.complexity import parameter_counts
from tcan_live.model.dfcan import DFCANBranch, FourierChannelAttention
from tcan_live.model.unet import UNetBranch


@pytest.mark.parametrize("preset", ["paper", "small", "dfcan", "unet"])
@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("size", [(32, 32), (37, 50), (70, 17)])
def test_output_shape(preset: str, scale: int, size: tuple[int, int]) -> None:
    generator = build_generator(preset, scale).eval()
    with torch.inference_mode():
        out = generator(torch.rand(2, 1, *size))
    assert out.shape == (2, 1, scale * size[0], scale * size[1])
    assert torch.isfinite(out).all()


def test_tiny_input_below_padding_multiple() -> None:
    generator = build_generator("small").eval()
    with torch.inference_mode():
        out = generator(torch.rand(1, 1, 5, 9))
    assert out.shape == (1, 1, 5, 9)


def test_spectra_give_the_same_model_output() -> None:
    fft_model = build_generator("small", 2, spectrum="fft").eval()
    matmul_model = build_generator("small", 2, spectrum="matmul").eval()
    matmul_model.load_state_dict(fft_model.state_dict())
    x = torch.rand(1, 1, 48, 40)
    with torch.inference_mode():
        a, b = fft_model(x), matmul_model(x)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_model_is_finite_on_bright_input(dtype: torch.dtype) -> None:
    # A saturated 16-bit frame after percentile normalisation: large areas far above 1. The
    # spectrum's DC bin of such a map exceeds the fp16 range unless computed in fp32.
    generator = build_generator("small").eval().to(dtype)
    frame = torch.full((1, 1, 128, 128), 60000.0)
    frame[..., 32:96, 32:96] = 65535.0
    normalised = (frame - 100.0) / (4000.0 - 100.0)  # low/high percentiles of a dim sample
    assert float(normalised.sum()) > torch.finfo(torch.float16).max  # unnormalised DC overflows
    with torch.inference_mode():
        out = generator(normalised.to(dtype))
    assert out.dtype == dtype
    assert torch.isfinite(out).all()


def test_autocast_keeps_attention_in_float32() -> None:
    # Under bf16 autocast the gate must equal the fp32 computation: bf16 convolutions would
    # differ by about 1e-3.
    dfcan = build_generator("small").branches["dfcan"]
    assert isinstance(dfcan, DFCANBranch)
    attention = next(m for m in dfcan.modules() if isinstance(m, FourierChannelAttention))
    features = torch.rand(1, 16, 64, 64) * 4.0
    with torch.inference_mode():
        reference = attention(features)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast_gate = attention(features)
    assert autocast_gate.dtype == torch.float32
    assert torch.allclose(autocast_gate, reference, atol=1e-6)


PARAMETER_RANGES = {
    "paper": (12_000_000, 14_000_000),
    "small": (600_000, 1_000_000),
    "dfcan": (1_000_000, 1_300_000),
    "unet": (11_000_000, 12_500_000),
}


@pytest.mark.parametrize("preset", sorted(PARAMETER_RANGES))
def test_parameter_counts_in_range(preset: str) -> None:
    counts = parameter_counts(build_generator(preset))
    low, high = PARAMETER_RANGES[preset]
    assert low <= counts["total"] <= high
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")


def test_paper_preset_matches_the_paper() -> None:
    config = generator_config("paper")
    assert config.branches == ("unet", "dfcan")
    assert (config.unet_base, config.unet_depth) == (32, 4)
    assert (config.dfcan_features, config.dfcan_groups, config.dfcan_blocks_per_group) == (64, 5, 2)
    assert config.gamma == 0.8
    generator = build_generator("paper")
    unet = generator.branches["unet"]
    assert isinstance(unet, UNetBranch)
    assert unet.bottom.out_channels == 512
    assert unet.out.in_channels == 32 and unet.out.out_channels == 1


def test_unknown_preset_and_field_are_named() -> None:
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        build_generator("huge")
    with pytest.raises(ValueError, match="unet_bsae"):
        generator_config("paper", unet_bsae=3)
