"""Turn metadata from sources, QC and numpy into strict JSON (no NaN, no numpy types)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """Return ``value`` with numpy scalars/arrays converted and non-finite floats as ``None``.

    Anything else that JSON cannot hold becomes its ``str``, so a stray object in a source's
    metadata is recorded rather than crashing the writer.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [json_safe(item) for item in value]
    return str(value)


def dumps(value: Any) -> str:
    """Serialise ``value`` as compact strict JSON, after :func:`json_safe`."""
    return json.dumps(json_safe(value), separators=(",", ":"), allow_nan=False)
