"""The fused pass: prediction, error, loss and gradient in one read of X.

Every function returns or adds *partial sums* (loss sum, gradient sum, weight
sum), never means, so passes over blocks, threads and files combine by
addition and the caller divides once.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT
from .losses import loss_grad


@njit(**JIT)
def accumulate(X, y, sw, theta, loss, idx, start, stop, g):
    """Add the loss and gradient sums of some rows of ``X`` to ``g``.

    Parameters
    ----------
    X : (n, d) C-contiguous float32 or float64 array
    y, sw : (n,) float64 arrays; ``sw`` may be empty (unit weights)
    theta : (d + 1,) float64 array, weights then intercept
    loss : int, a code from :mod:`fastgd.kernels.losses`
    idx : int64 array; when non-empty, row ``idx[k]`` is visited for each
        ``k`` in ``[start, stop)``, otherwise row ``k`` itself
    g : float64 array of length at least ``d + 1``; receives the gradient sum
        for the weights in ``g[:d]`` and for the intercept in ``g[d]``

    Returns
    -------
    loss_sum, weight_sum : float
    """
    d = X.shape[1]
    b = theta[d]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    loss_sum = 0.0
    weight_sum = 0.0
    gb = 0.0
    for k in range(start, stop):
        i = idx[k] if gather else k
        x = X[i]
        p = b
        for j in range(d):
            p += x[j] * theta[j]
        value, r = loss_grad(loss, p, y[i])
        if weighted:
            s = sw[i]
            value *= s
            r *= s
            weight_sum += s
        loss_sum += value
        gb += r
        for j in range(d):
            g[j] += r * x[j]
    g[d] += gb
    if not weighted:
        weight_sum = float(stop - start)
    return loss_sum, weight_sum


@njit(**JIT)
def loss_sum(X, y, sw, theta, loss, idx, start, stop):
    """Weighted loss sum of the same rows as :func:`accumulate`, without a gradient."""
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    total = 0.0
    for k in range(start, stop):
        i = idx[k] if gather else k
        x = X[i]
        p = theta[d]
        for j in range(d):
            p += x[j] * theta[j]
        value = loss_grad(loss, p, y[i])[0]
        total += value * sw[i] if weighted else value
    return total


@njit(parallel=True, **JIT)
def full_pass(X, y, sw, theta, loss, idx, chunk_rows):
    """Loss and gradient sums over all rows of ``X`` (or those in ``idx``).

    Rows are cut into fixed chunks of ``chunk_rows``; each chunk sums into its
    own row of a buffer and the rows are merged in chunk order, so the result
    does not depend on the number of threads.

    Returns
    -------
    (d + 3,) float64 array: gradient sum for the weights (``[:d]``) and the
    intercept (``[d]``), then the loss sum and the weight sum.
    """
    d = X.shape[1]
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    parts = np.zeros((n_chunks, d + 3))
    for c in prange(n_chunks):
        start = c * chunk_rows
        part = parts[c]
        loss_sum, weight_sum = accumulate(
            X, y, sw, theta, loss, idx, start, min(n, start + chunk_rows), part
        )
        part[d + 1] = loss_sum
        part[d + 2] = weight_sum
    total = np.zeros(d + 3)
    for c in range(n_chunks):
        for j in range(d + 3):
            total[j] += parts[c, j]
    return total


@njit(parallel=True, **JIT)
def predict(X, theta, out):
    """Write ``X @ theta[:d] + theta[d]`` into ``out``."""
    n, d = X.shape
    for i in prange(n):
        p = theta[d]
        for j in range(d):
            p += X[i, j] * theta[j]
        out[i] = p
