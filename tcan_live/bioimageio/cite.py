"""What an exported package says about where it comes from: papers, authors, licence."""

from __future__ import annotations

from typing import Any

# The papers behind the network: TCAN (its generator) and DFCAN (its Fourier branch).
CITATIONS: tuple[dict[str, str], ...] = (
    {
        "text": "Huang B. et al. Enhancing image resolution of confocal fluorescence microscopy "
        "with deep learning. PhotoniX 4, 2 (2023) (TCAN)",
        "doi": "10.1186/s43074-022-00077-x",
    },
    {
        "text": "Qiao C. et al. Evaluation and development of deep neural networks for image "
        "super-resolution in optical microscopy. Nature Methods 18, 194-202 (2021) (DFCAN)",
        "doi": "10.1038/s41592-020-01048-5",
    },
)
AUTHORS: tuple[dict[str, Any], ...] = ({"name": "tcan-live contributors"},)
LICENSE = "BSD-3-Clause"  # the project's licence, which the shipped weights are released under
TAGS = ("super-resolution", "confocal", "sted", "fluorescence", "2d", "tcan", "dfcan", "onnx")
