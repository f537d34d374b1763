"""The acquisition daemon: configured source -> pipeline (engines) -> OME-Zarr and previews."""

from tcan_live.daemon.service import Daemon, DaemonError, run_until

__all__ = ["Daemon", "DaemonError", "run_until"]
