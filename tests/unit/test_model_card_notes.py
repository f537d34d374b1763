"""Model-card notes derived from a checkpoint's recorded training configuration."""

from __future__ import annotations

from typing import Any

from tcan_live_training.ship import _discriminator_init_lines


def _training(adversarial_weight: float, init: str | None) -> dict[str, Any]:
    discriminator = {"base": 16} if init is None else {"base": 16, "init": init}
    return {
        "config": {
            "model": {"discriminator": discriminator},
            "loss": {"adversarial_weight": adversarial_weight},
        }
    }


def test_old_discriminator_init_is_flagged_with_how_to_reproduce() -> None:
    # written before the init field existed: torch's default init was used
    lines = _discriminator_init_lines(_training(0.0005, None))
    assert any('init = "torch-default"' in line for line in lines)
    assert _discriminator_init_lines(_training(0.0005, "torch-default")) == lines


def test_no_note_for_the_fixed_init_or_without_an_adversarial_term() -> None:
    assert _discriminator_init_lines(_training(0.0005, "leaky-kaiming")) == []
    assert _discriminator_init_lines(_training(0.0, None)) == []
    assert _discriminator_init_lines({}) == []
