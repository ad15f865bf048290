"""Per-row losses, selected by integer code inside compiled loops.

Each loss returns ``(loss, dloss/dp)`` for a prediction ``p`` and target
``y``. Classification targets are encoded as -1/+1 by the estimator.
"""

import math

from numba import njit

from .._config import JIT

SQUARED_ERROR = 0
LOG_LOSS = 1
#: ``p**2 / 2``, ignoring the target: its gradient sum is ``X1.T @ X1 @ v``,
#: which power iteration needs to estimate the curvature of the data.
GRAM = 2

CODES = {"squared_error": SQUARED_ERROR, "log_loss": LOG_LOSS}

#: Bound on the second derivative of each loss in ``p``: the gradient's
#: Lipschitz constant is this times the largest eigenvalue of ``X1.T X1 / m``.
CURVATURE = {SQUARED_ERROR: 1.0, LOG_LOSS: 0.25, GRAM: 1.0}


@njit(**JIT)
def loss_grad(code, p, y):
    """Loss and its derivative with respect to the prediction ``p``."""
    if code == SQUARED_ERROR:
        e = p - y
        return 0.5 * e * e, e
    if code == LOG_LOSS:
        # log(1 + exp(-y p)), written so that exp never overflows.
        z = -y * p
        if z > 0.0:
            ez = math.exp(-z)
            return z + math.log1p(ez), -y / (1.0 + ez)
        ez = math.exp(z)
        return math.log1p(ez), -y * ez / (1.0 + ez)
    if code == GRAM:
        return 0.5 * p * p, p
    return math.nan, math.nan
