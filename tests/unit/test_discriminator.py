import pytest
import torch

from tcan_live.model import DiscriminatorConfig, build_discriminator


@pytest.mark.parametrize("size", [64, 96, 256])
def test_one_logit_per_image(size: int) -> None:
    discriminator = build_discriminator()
    logits = discriminator(torch.rand(3, 1, size, size))
    assert logits.shape == (3,)


def test_structure_follows_the_paper() -> None:
    discriminator = build_discriminator()
    convs = [m for m in discriminator.features if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in discriminator.features if isinstance(m, torch.nn.AvgPool2d)]
    dense = [m for m in discriminator.classifier if isinstance(m, torch.nn.Linear)]
    assert len(convs) == 1 + 5 * 2
    assert len(pools) == 4  # between the five blocks
    assert len(dense) == 3 and dense[-1].out_features == 1


def test_conditional_input_channels() -> None:
    discriminator = build_discriminator(DiscriminatorConfig(in_channels=2))
    assert discriminator(torch.rand(2, 2, 64, 64)).shape == (2,)


@pytest.mark.parametrize(
    "config",
    [
        DiscriminatorConfig(),  # the paper's
        DiscriminatorConfig(base=16, max_channels=128, dense=(128, 32)),  # the small configs'
    ],
)
def test_a_fresh_discriminator_tells_images_apart(config: DiscriminatorConfig) -> None:
    torch.manual_seed(0)
    images = torch.rand(4, 1, 128, 128)
    images[2:] *= 0.2  # dimmer images
    with torch.no_grad():
        spread = build_discriminator(config)(images).std().item()
        default = config.model_copy(update={"init": "torch-default"})
        old_spread = build_discriminator(default)(images).std().item()
    # torch's default init gives an input-independent logit (why "leaky-kaiming" exists)
    assert spread > 1e-3 > 1e-5 > old_spread, (spread, old_spread)
