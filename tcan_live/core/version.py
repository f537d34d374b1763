"""The installed tcan-live version, recorded in every engine, data set and checkpoint made."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tcan-live")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
