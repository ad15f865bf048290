"""Per-row losses, selected by integer code inside compiled loops.

What the Python side knows about each loss (curvature, link, targets) is in
:mod:`fastgd.losses`. A single-output loss returns ``(loss, dloss/dp)`` for a prediction ``p`` and
target ``y``; ``param`` is the loss's one parameter (Huber's epsilon).
Binary classification targets are encoded as -1/+1, multinomial ones as the
class index.
"""

import math

import numpy as np
from numba import njit

from .._config import JIT, LEAF

SQUARED_ERROR = 0
LOG_LOSS = 1
#: ``p**2 / 2``, ignoring the target: its gradient sum is ``X1.T @ X1 @ v``,
#: which power iteration needs to estimate the curvature of the data.
GRAM = 2
HUBER = 3
POISSON = 4
HINGE = 5
#: Softmax cross-entropy over K outputs; see :func:`softmax_loss_grad`.
MULTINOMIAL = 6

@njit(**LEAF)
def loss_grad(code, p, y, param):
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
    if code == HUBER:
        e = p - y
        if abs(e) <= param:
            return 0.5 * e * e, e
        return param * (abs(e) - 0.5 * param), param if e > 0.0 else -param
    if code == POISSON:
        # exp(p) - y p: the Poisson deviance / 2 without its constant part.
        mu = math.exp(p)
        return mu - y * p, mu - y
    if code == HINGE:
        margin = y * p
        if margin < 1.0:
            return 1.0 - margin, -y
        return 0.0, 0.0
    return math.nan, math.nan


@njit(**LEAF)
def softmax_loss_grad(p, label, r):
    """Softmax cross-entropy of logits ``p`` for class ``label``.

    Writes ``d loss / d p`` (softmax minus one-hot) into ``r``; returns the
    loss ``logsumexp(p) - p[label]``.
    """
    top = p[0]
    for k in range(1, p.shape[0]):
        top = max(top, p[k])
    total = 0.0
    for k in range(p.shape[0]):
        r[k] = math.exp(p[k] - top)
        total += r[k]
    for k in range(p.shape[0]):
        r[k] /= total
    r[label] -= 1.0
    return top + math.log(total) - p[label]


@njit(**JIT)
def constant_losses(code, param, b, y, sw, rows, n_out):
    """``(loss sum, weight sum)`` when every row's prediction is ``b`` (one per
    output): the objective of a model whose weights are all zero, from the
    targets alone. ``rows`` picks rows (all when empty); ``sw`` may be empty.
    ``n_out`` is the softmax's class count, or None for one output (see
    :func:`~fastgd.kernels.fused.kernel_n_out`: no softmax code compiled)."""
    constant = 0.0
    if n_out is not None and n_out > 1:
        constant = softmax_loss_grad(b.copy(), 0, np.empty(n_out)) + b[0]  # logsumexp(b)
    gather = rows.shape[0] > 0
    weighted = sw.shape[0] > 0
    loss_total = weight_total = 0.0
    for k in range(rows.shape[0] if gather else y.shape[0]):
        i = rows[k] if gather else k
        if n_out is None or n_out == 1:
            value = loss_grad(code, b[0], y[i], param)[0]
        else:
            value = constant - b[int(y[i])]
        s = sw[i] if weighted else 1.0
        loss_total += value * s
        weight_total += s
    return loss_total, weight_total
