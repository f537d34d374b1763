"""tcan-live: live STED-like super-resolution for confocal microscopes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tcan-live")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
