"""The acquisition daemon: configured source -> pipeline (engines) -> OME-Zarr and previews."""

from tcan_live.daemon.service import Daemon, DaemonError, rejected_folder, run_until

__all__ = ["Daemon", "DaemonError", "rejected_folder", "run_until"]
