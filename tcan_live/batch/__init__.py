"""Batch super-resolution of recorded datasets on dask.distributed (``tcan-live batch``)."""
