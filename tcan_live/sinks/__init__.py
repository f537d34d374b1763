"""Where results go: the OME-Zarr store (also the durable raw backlog), its journal, rejects."""
