"""Physics simulator of paired low/high-resolution fluorescence images (confocal -> STED etc.).

``simulate_pair`` makes one training pair; ``simulate_timelapse`` a multi-channel movie for the
daemon and demo; ``write_dataset`` the ``lr/``, ``hr/``, ``gt/`` folder layout on disk.
"""

from tcan_live.simulate.config import STRUCTURES, SimulationConfig, preset
from tcan_live.simulate.dataset import write_dataset
from tcan_live.simulate.pair import SimulatedPair, simulate_pair
from tcan_live.simulate.timelapse import Dynamics, TimeLapse, simulate_timelapse

__all__ = [
    "STRUCTURES",
    "Dynamics",
    "SimulatedPair",
    "SimulationConfig",
    "TimeLapse",
    "preset",
    "simulate_pair",
    "simulate_timelapse",
    "write_dataset",
]
