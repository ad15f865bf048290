"""Compiled kernels. They take only arrays, scalars, integer codes and named tuples of those."""

from .fused import accumulate, full_pass, full_pass_serial, loss_sum, predict, predict_serial
from .losses import GRAM, HINGE, HUBER, LOG_LOSS, MULTINOMIAL, POISSON, SQUARED_ERROR, loss_grad, softmax_loss_grad
from .stats import column_stats

__all__ = [
    "GRAM",
    "HINGE",
    "HUBER",
    "LOG_LOSS",
    "MULTINOMIAL",
    "POISSON",
    "SQUARED_ERROR",
    "accumulate",
    "column_stats",
    "full_pass",
    "full_pass_serial",
    "loss_grad",
    "loss_sum",
    "predict",
    "predict_serial",
    "softmax_loss_grad",
]
