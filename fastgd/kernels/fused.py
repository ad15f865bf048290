"""The fused pass: prediction, error, loss and gradient in one read of X.

Every function returns or adds *partial sums* (loss sum, gradient sum, weight
sum), never means, so passes over blocks, threads and files combine by
addition and the caller divides once.

Parameters are a flat float64 vector of ``n_out`` rows of ``d + 1``: the
weights of output ``c`` at ``c * (d + 1) + j``, its intercept at
``c * (d + 1) + d``. Single-output losses have ``n_out = 1``; the softmax has
one row per class.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT
from .losses import loss_grad, softmax_loss_grad


@njit(**JIT)
def logits(x, theta, n_out, p):
    """Write the ``n_out`` linear predictors of row ``x`` into ``p``."""
    d = x.shape[0]
    for c in range(n_out):
        base = c * (d + 1)
        z = theta[base + d]
        for j in range(d):
            z += x[j] * theta[base + j]
        p[c] = z


@njit(**JIT)
def accumulate(X, y, sw, theta, loss, param, n_out, idx, start, stop, g):
    """Add the loss and gradient sums of some rows of ``X`` to ``g``.

    Parameters
    ----------
    X : (n, d) C-contiguous float32 or float64 array
    y, sw : (n,) float64 arrays; ``sw`` may be empty (unit weights)
    theta : (n_out * (d + 1),) float64 parameters
    loss, param : int code from :mod:`fastgd.kernels.losses` and its parameter
    n_out : int, outputs (classes of the softmax, else 1)
    idx : int64 array; when non-empty, row ``idx[k]`` is visited for each
        ``k`` in ``[start, stop)``, otherwise row ``k`` itself
    g : float64 array of at least ``n_out * (d + 1)`` entries; receives the
        gradient sums, laid out as ``theta``

    Returns
    -------
    loss_sum, weight_sum : float
    """
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    loss_sum = 0.0
    weight_sum = 0.0
    if n_out == 1:
        b = theta[d]
        gb = 0.0
        for k in range(start, stop):
            i = idx[k] if gather else k
            x = X[i]
            p = b
            for j in range(d):
                p += x[j] * theta[j]
            value, r = loss_grad(loss, p, y[i], param)
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
    else:
        p = np.empty(n_out)
        r = np.empty(n_out)
        for k in range(start, stop):
            i = idx[k] if gather else k
            x = X[i]
            logits(x, theta, n_out, p)
            value = softmax_loss_grad(p, int(y[i]), r)
            if weighted:
                s = sw[i]
                value *= s
                weight_sum += s
                for c in range(n_out):
                    r[c] *= s
            loss_sum += value
            for c in range(n_out):
                base = c * (d + 1)
                rc = r[c]
                for j in range(d):
                    g[base + j] += rc * x[j]
                g[base + d] += rc
    if not weighted:
        weight_sum = float(stop - start)
    return loss_sum, weight_sum


@njit(**JIT)
def loss_sum(X, y, sw, theta, loss, param, n_out, idx, start, stop):
    """Weighted loss sum of the same rows as :func:`accumulate`, without a gradient."""
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    p = np.empty(n_out)
    r = np.empty(n_out)
    total = 0.0
    for k in range(start, stop):
        i = idx[k] if gather else k
        logits(X[i], theta, n_out, p)
        if n_out == 1:
            value = loss_grad(loss, p[0], y[i], param)[0]
        else:
            value = softmax_loss_grad(p, int(y[i]), r)
        total += value * sw[i] if weighted else value
    return total


@njit(parallel=True, **JIT)
def full_pass(X, y, sw, theta, loss, param, n_out, idx, chunk_rows):
    """Loss and gradient sums over all rows of ``X`` (or those in ``idx``).

    Rows are cut into fixed chunks of ``chunk_rows``; each chunk sums into its
    own row of a buffer and the rows are merged in chunk order, so the result
    does not depend on the number of threads.

    Returns
    -------
    (P + 2,) float64 array, ``P = n_out * (d + 1)``: the gradient sums laid
    out as ``theta``, then the loss sum and the weight sum.
    """
    P = theta.shape[0]
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    parts = np.zeros((n_chunks, P + 2))
    for c in prange(n_chunks):
        start = c * chunk_rows
        part = parts[c]
        loss_total, weight_total = accumulate(
            X, y, sw, theta, loss, param, n_out, idx, start, min(n, start + chunk_rows), part
        )
        part[P] = loss_total
        part[P + 1] = weight_total
    total = np.zeros(P + 2)
    for c in range(n_chunks):
        for j in range(P + 2):
            total[j] += parts[c, j]
    return total


@njit(parallel=True, **JIT)
def predict(X, theta, out):
    """Write the linear predictor of each output into ``out``, shape ``(n, n_out)``."""
    n, d = X.shape
    n_out = out.shape[1]
    for i in prange(n):
        for c in range(n_out):
            base = c * (d + 1)
            p = theta[base + d]
            for j in range(d):
                p += X[i, j] * theta[base + j]
            out[i, c] = p
