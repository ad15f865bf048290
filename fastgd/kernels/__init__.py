"""Compiled kernels. They take only arrays, scalars and integer codes."""

from .fused import accumulate, full_pass, loss_sum, predict
from .losses import (
    CODES,
    CURVATURE,
    GRAM,
    HINGE,
    HUBER,
    LOG_LOSS,
    MULTINOMIAL,
    NONSMOOTH,
    POISSON,
    SQUARED_ERROR,
    loss_grad,
    softmax_loss_grad,
)
from .stats import column_stats

__all__ = [
    "CODES",
    "CURVATURE",
    "GRAM",
    "HINGE",
    "HUBER",
    "LOG_LOSS",
    "MULTINOMIAL",
    "NONSMOOTH",
    "POISSON",
    "SQUARED_ERROR",
    "accumulate",
    "column_stats",
    "full_pass",
    "loss_grad",
    "loss_sum",
    "predict",
    "softmax_loss_grad",
]
