"""Benchmarks behind ``tcan-live bench``: measured ratios side by side in one run."""
