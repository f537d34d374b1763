"""Physics simulator of paired low/high-resolution fluorescence images (confocal -> STED etc.).

``simulate_pair`` makes one training pair; ``simulate_timelapse`` a multi-channel movie for the
daemon and demo; ``write_dataset`` the ``lr/``, ``hr/``, ``gt/`` folder layout on disk.
"""

from training.simulate.config import STRUCTURES, SimulationConfig, preset
from training.simulate.pair import SimulatedPair, simulate_pair

__all__ = ["STRUCTURES", "SimulatedPair", "SimulationConfig", "preset", "simulate_pair"]
