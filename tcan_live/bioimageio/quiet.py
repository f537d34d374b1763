"""Calls into bioimageio.spec/core without the file handles they leave open.

bioimageio.spec 0.5.12 reads package files (test tensors, README, weights) without always
closing them; Python then warns (``ResourceWarning``) whenever the garbage collector gets to
them, which may be inside the call or anywhere later. :func:`closing_leaks` silences that one
warning during the call and collects the leftovers before it ends, so nothing else is affected.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def closing_leaks() -> Iterator[None]:
    """Run the block, then close the files it left open, without ``ResourceWarning``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield
        finally:
            gc.collect()
