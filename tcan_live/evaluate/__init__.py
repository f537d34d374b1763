"""Evaluation of super-resolution methods with the papers' metrics (``tcan-live evaluate``)."""

from tcan_live.evaluate.run import Method, evaluate

__all__ = ["Method", "evaluate"]
