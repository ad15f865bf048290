"""The fused pass over CSR rows: prediction, error, loss and gradient in one read of each row's nonzeros.

Written here because no library offers it: scipy.sparse computes ``X @ w``
and ``X.T @ r`` as two passes with an n-vector in between, and its sums are
not in a fixed order across threads.

Rows are cut into :func:`groups` runs of consecutive rows; each run sums into
its own dense row of a ``(groups, P + 2)`` buffer and the rows are added in
run order. The number of runs depends on the number of rows and parameters
only, never on the threads, so the result is the same bits with any thread
count (and from the serial twins), and the buffer is bounded by
:data:`~fastgd._config.SPARSE_BUFFER_BYTES` whatever the number of rows.
Duplicate column indices in a row add up, as in scipy.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT, SPARSE_BUFFER_BYTES, SPARSE_GROUP_ROWS, SPARSE_MAX_GROUPS
from .fused import fold
from .losses import loss_grad, softmax_loss_grad
from .prefetch import _prefetch_1d

#: Rows ahead whose parameters and sums are requested: with millions of
#: features they are scattered far beyond the cache, and a row's column
#: indices say where long before the row is summed.
_AHEAD = 4
from .stats import _fold_stats


@njit(**JIT)
def groups(n, width):
    """Runs of rows for ``n`` rows and sums of ``width`` values: enough for threads, bounded in bytes."""
    by_bytes = max(1, SPARSE_BUFFER_BYTES // (8 * width))
    by_rows = max(1, n // SPARSE_GROUP_ROWS)
    return min(SPARSE_MAX_GROUPS, by_bytes, by_rows)


@njit(**JIT)
def _row_logits(data, indices, a, b, theta, n_out, d, p):
    for c in range(n_out):
        base = c * (d + 1)
        z = theta[base + d]
        for k in range(a, b):
            z += data[k] * theta[base + indices[k]]
        p[c] = z


@njit(**JIT)
def _run_sums(data, indices, indptr, y, sw, theta, loss, param, n_out, d, idx, start, stop, part):
    """Write the sums of rows ``start:stop`` (of ``idx``, when given) into ``part``."""
    part[:] = 0.0
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    p = np.empty(n_out)
    r = np.empty(n_out)
    loss_total = weight_total = 0.0
    for k in range(start, stop):
        if n_out == 1 and k + _AHEAD < stop:
            ahead = idx[k + _AHEAD] if gather else k + _AHEAD
            for q in range(indptr[ahead], indptr[ahead + 1]):
                _prefetch_1d(theta, indices[q])
                _prefetch_1d(part, indices[q])
        i = idx[k] if gather else k
        a, b = indptr[i], indptr[i + 1]
        _row_logits(data, indices, a, b, theta, n_out, d, p)
        if n_out == 1:
            value, r[0] = loss_grad(loss, p[0], y[i], param)
        else:
            value = softmax_loss_grad(p, int(y[i]), r)
        s = sw[i] if weighted else 1.0
        loss_total += value * s
        weight_total += s
        for c in range(n_out):
            base = c * (d + 1)
            rc = r[c] * s
            for q in range(a, b):
                part[base + indices[q]] += rc * data[q]
            part[base + d] += rc
    P = n_out * (d + 1)
    part[P] = loss_total
    part[P + 1] = weight_total


@njit(parallel=True, **JIT)
def csr_pass(data, indices, indptr, y, sw, theta, loss, param, n_out, d, idx, total):
    """Add the loss and gradient sums of the CSR rows (those in ``idx``, when non-empty) to ``total``.

    ``total`` is laid out as for :func:`~fastgd.kernels.fused.full_pass`: the
    gradient sums as ``theta``, then the loss sum and the weight sum.
    """
    n = idx.shape[0] if idx.shape[0] > 0 else indptr.shape[0] - 1
    count = groups(n, total.shape[0])
    parts = np.empty((count, total.shape[0]))
    for g in prange(count):
        _run_sums(data, indices, indptr, y, sw, theta, loss, param, n_out, d, idx,
                  g * n // count, (g + 1) * n // count, parts[g])
    fold(total, parts, count)


@njit(**JIT)
def csr_pass_serial(data, indices, indptr, y, sw, theta, loss, param, n_out, d, idx, total):
    """:func:`csr_pass` on the calling thread: the same runs, the same bits."""
    n = idx.shape[0] if idx.shape[0] > 0 else indptr.shape[0] - 1
    count = groups(n, total.shape[0])
    part = np.empty((1, total.shape[0]))
    for g in range(count):
        _run_sums(data, indices, indptr, y, sw, theta, loss, param, n_out, d, idx,
                  g * n // count, (g + 1) * n // count, part[0])
        fold(total, part, 1)


@njit(**JIT)
def _run_stats(data, indices, indptr, sw, center, inv_scale, offset, idx, start, stop, part, extremes):
    """Weighted sums of x and x**2 per column over the nonzeros, and the row extremes."""
    part[:] = 0.0
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    norm_max = weight_sum = weight_max = 0.0
    for k in range(start, stop):
        i = idx[k] if gather else k
        s = sw[i] if weighted else 1.0
        # ||(x - center) * inv_scale||**2 over all columns: the zeros give
        # ``offset``; each nonzero replaces its column's term.
        norm = offset
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            x = data[q]
            part[0, j] += s * x
            part[1, j] += s * x * x
            u = (x - center[j]) * inv_scale[j]
            v = center[j] * inv_scale[j]
            norm += u * u - v * v
        norm_max = max(norm_max, s * norm)
        weight_sum += s
        weight_max = max(weight_max, s)
    extremes[0] = norm_max
    extremes[1] = weight_sum
    extremes[2] = weight_max


@njit(**JIT)
def _offset(center, inv_scale):
    total = 0.0
    for j in range(center.shape[0]):
        v = center[j] * inv_scale[j]
        total += v * v
    return total


@njit(parallel=True, **JIT)
def csr_stats(data, indices, indptr, sw, center, inv_scale, idx, sums, extremes):
    """Add weighted column sums of ``x`` and ``x**2`` and the row extremes (see
    :func:`~fastgd.kernels.stats.column_stats`, with a shift of 0: shifting
    would fill the zeros in) to ``sums`` and ``extremes``."""
    n = idx.shape[0] if idx.shape[0] > 0 else indptr.shape[0] - 1
    d = sums.shape[1]
    offset = _offset(center, inv_scale)
    count = groups(n, 2 * d + 3)
    parts = np.empty((count, 2, d))
    part_extremes = np.empty((count, 3))
    for g in prange(count):
        _run_stats(data, indices, indptr, sw, center, inv_scale, offset, idx,
                   g * n // count, (g + 1) * n // count, parts[g], part_extremes[g])
    _fold_stats(sums, extremes, parts, part_extremes, count)


@njit(**JIT)
def csr_stats_serial(data, indices, indptr, sw, center, inv_scale, idx, sums, extremes):
    """:func:`csr_stats` on the calling thread: the same bits."""
    n = idx.shape[0] if idx.shape[0] > 0 else indptr.shape[0] - 1
    d = sums.shape[1]
    offset = _offset(center, inv_scale)
    count = groups(n, 2 * d + 3)
    part = np.empty((1, 2, d))
    part_extremes = np.empty((1, 3))
    for g in range(count):
        _run_stats(data, indices, indptr, sw, center, inv_scale, offset, idx,
                   g * n // count, (g + 1) * n // count, part[0], part_extremes[0])
        _fold_stats(sums, extremes, part, part_extremes, 1)


@njit(**JIT)
def _predict_row(data, indices, indptr, theta, d, out, i):
    for c in range(out.shape[1]):
        base = c * (d + 1)
        z = theta[base + d]
        for k in range(indptr[i], indptr[i + 1]):
            z += data[k] * theta[base + indices[k]]
        out[i, c] = z


@njit(parallel=True, **JIT)
def csr_predict(data, indices, indptr, theta, d, out):
    """``out[i, c]``: the linear predictor of class ``c`` for CSR row ``i``."""
    for i in prange(indptr.shape[0] - 1):
        _predict_row(data, indices, indptr, theta, d, out, i)


@njit(**JIT)
def csr_predict_serial(data, indices, indptr, theta, d, out):
    """:func:`csr_predict` on the calling thread."""
    for i in range(indptr.shape[0] - 1):
        _predict_row(data, indices, indptr, theta, d, out, i)
