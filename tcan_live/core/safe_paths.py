"""Keep every output inside its configured location, whatever names arrive from input."""

from __future__ import annotations

import os
import re
from pathlib import Path

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class UnsafePathError(ValueError):
    """An output path would leave its configured root (``..``, absolute name or a symlink)."""


def safe_name(name: str) -> str:
    """Return ``name`` reduced to a harmless file-name component (letters, digits, ``._-``)."""
    cleaned = _UNSAFE_CHARS.sub("_", name).strip(".")
    return cleaned or "_"


def contained_path(root: Path, *parts: str) -> Path:
    """Return ``root / parts...``, refusing anything that resolves outside ``root``.

    Parameters
    ----------
    root
        The configured output location.
    parts
        Relative path components; they may come from untrusted input (channel names, topics).

    Raises
    ------
    UnsafePathError
        When a component is absolute, contains ``..`` or a symlink on the way leads elsewhere.
    """
    real_root = root.resolve()
    for part in parts:
        if os.path.isabs(part) or ".." in Path(part).parts:
            raise UnsafePathError(f"output name {part!r} would leave {root}: refused")
    candidate = root.joinpath(*parts)
    real = candidate.resolve()
    if real != real_root and real_root not in real.parents:
        raise UnsafePathError(f"output path {candidate} resolves to {real}, outside {root}")
    return candidate


def refuse_symlinks(root: Path, relative_dirs: tuple[str, ...]) -> None:
    """Raise ``UnsafePathError`` if any existing ``root/dir`` is a symbolic link.

    Writers create files inside these folders; a link planted there would redirect the
    output outside the configured location. ``root`` itself is the user's choice and may be
    a link.
    """
    for relative in relative_dirs:
        path = root / relative
        if path.is_symlink():
            raise UnsafePathError(
                f"{path} is a symbolic link: outputs are only written to real folders"
            )
