"""Compiled kernels. They take only arrays, scalars and integer codes."""

from .fused import accumulate, full_pass, predict
from .losses import CODES, CURVATURE, GRAM, LOG_LOSS, SQUARED_ERROR, loss_grad
from .stats import column_stats

__all__ = [
    "CODES",
    "CURVATURE",
    "GRAM",
    "LOG_LOSS",
    "SQUARED_ERROR",
    "accumulate",
    "column_stats",
    "full_pass",
    "loss_grad",
    "predict",
]
