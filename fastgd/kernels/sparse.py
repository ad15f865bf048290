"""The fused pass over sparse rows: prediction, error, loss and gradient in one read of each row's entries.

Rows come as a storage of :mod:`fastgd.kernels.rowstore`: CSR matrices, or
numeric and categorical columns (a category is one entry, found through its
integer code). Each kernel is compiled once per storage.

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
from .rowstore import entry, n_rows, span

#: Rows ahead whose parameters and sums are requested: with millions of
#: features they are scattered far beyond the cache, and a row's column
#: indices say where long before the row is summed.
_AHEAD = 4
#: Parameters above which they are requested ahead (fewer stay in cache).
_FAR = 1 << 15
from .stats import _fold_stats


@njit(**JIT)
def groups(n, width):
    """Runs of rows for ``n`` rows and sums of ``width`` values: enough for threads, bounded in bytes."""
    by_bytes = max(1, SPARSE_BUFFER_BYTES // (8 * width))
    by_rows = max(1, n // SPARSE_GROUP_ROWS)
    return min(SPARSE_MAX_GROUPS, by_bytes, by_rows)


@njit(**JIT)
def _row_logits(store, i, theta, n_out, d, p):
    a, b = span(store, i)
    for c in range(n_out):
        base = c * (d + 1)
        z = theta[base + d]
        for e in range(a, b):
            j, x = entry(store, i, e)
            if j >= 0:
                z += x * theta[base + j]
        p[c] = z


@njit(**JIT)
def _run_sums(store, y, sw, theta, loss, param, n_out, d, idx, start, stop, part):
    """Write the sums of rows ``start:stop`` (of ``idx``, when given) into ``part``."""
    part[:] = 0.0
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    p = np.empty(n_out)
    r = np.empty(n_out)
    loss_total = weight_total = 0.0
    far = n_out == 1 and theta.shape[0] > _FAR
    for k in range(start, stop):
        if far and k + _AHEAD < stop:
            ahead = idx[k + _AHEAD] if gather else k + _AHEAD
            a, b = span(store, ahead)
            for e in range(a, b):
                j, _ = entry(store, ahead, e)
                if j >= 0:
                    _prefetch_1d(theta, j)
                    _prefetch_1d(part, j)
        i = idx[k] if gather else k
        _row_logits(store, i, theta, n_out, d, p)
        if n_out == 1:
            value, r[0] = loss_grad(loss, p[0], y[i], param)
        else:
            value = softmax_loss_grad(p, int(y[i]), r)
        s = sw[i] if weighted else 1.0
        loss_total += value * s
        weight_total += s
        a, b = span(store, i)
        for c in range(n_out):
            base = c * (d + 1)
            rc = r[c] * s
            for e in range(a, b):
                j, x = entry(store, i, e)
                if j >= 0:
                    part[base + j] += rc * x
            part[base + d] += rc
    P = n_out * (d + 1)
    part[P] = loss_total
    part[P + 1] = weight_total


@njit(parallel=True, **JIT)
def sparse_pass(store, y, sw, theta, loss, param, n_out, d, idx, total):
    """Add the loss and gradient sums of the rows of ``store`` (those in ``idx``, when non-empty) to ``total``.

    ``total`` is laid out as for :func:`~fastgd.kernels.fused.full_pass`: the
    gradient sums as ``theta``, then the loss sum and the weight sum.
    """
    n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
    count = groups(n, total.shape[0])
    parts = np.empty((count, total.shape[0]))
    for g in prange(count):
        _run_sums(store, y, sw, theta, loss, param, n_out, d, idx,
                  g * n // count, (g + 1) * n // count, parts[g])
    fold(total, parts, count)


@njit(**JIT)
def sparse_pass_serial(store, y, sw, theta, loss, param, n_out, d, idx, total):
    """:func:`sparse_pass` on the calling thread: the same runs, the same bits."""
    n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
    count = groups(n, total.shape[0])
    part = np.empty((1, total.shape[0]))
    for g in range(count):
        _run_sums(store, y, sw, theta, loss, param, n_out, d, idx,
                  g * n // count, (g + 1) * n // count, part[0])
        fold(total, part, 1)


@njit(**JIT)
def _run_stats(store, sw, shift, center, inv_scale, offset, idx, start, stop, part, extremes):
    """Weighted sums of ``x - shift`` and its square per column over the entries, and the row extremes."""
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
        a, b = span(store, i)
        for e in range(a, b):
            j, x = entry(store, i, e)
            if j < 0:
                continue
            h = x - shift[j]
            part[0, j] += s * h
            part[1, j] += s * h * h
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
def sparse_stats(store, sw, shift, center, inv_scale, idx, sums, extremes):
    """Add weighted column sums of ``x - shift`` and its square and the row
    extremes (see :func:`~fastgd.kernels.stats.column_stats`) to ``sums`` and
    ``extremes``. ``shift`` must be 0 for every column not present in every
    row (shifting would fill the zeros in)."""
    n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
    d = sums.shape[1]
    offset = _offset(center, inv_scale)
    count = groups(n, 2 * d + 3)
    parts = np.empty((count, 2, d))
    part_extremes = np.empty((count, 3))
    for g in prange(count):
        _run_stats(store, sw, shift, center, inv_scale, offset, idx,
                   g * n // count, (g + 1) * n // count, parts[g], part_extremes[g])
    _fold_stats(sums, extremes, parts, part_extremes, count)


@njit(**JIT)
def sparse_stats_serial(store, sw, shift, center, inv_scale, idx, sums, extremes):
    """:func:`sparse_stats` on the calling thread: the same bits."""
    n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
    d = sums.shape[1]
    offset = _offset(center, inv_scale)
    count = groups(n, 2 * d + 3)
    part = np.empty((1, 2, d))
    part_extremes = np.empty((1, 3))
    for g in range(count):
        _run_stats(store, sw, shift, center, inv_scale, offset, idx,
                   g * n // count, (g + 1) * n // count, part[0], part_extremes[0])
        _fold_stats(sums, extremes, part, part_extremes, 1)


@njit(parallel=True, **JIT)
def sparse_predict(store, theta, d, out):
    """``out[i, c]``: the linear predictor of class ``c`` for row ``i`` of ``store``."""
    for i in prange(n_rows(store)):
        _row_logits(store, i, theta, out.shape[1], d, out[i])


@njit(**JIT)
def sparse_predict_serial(store, theta, d, out):
    """:func:`sparse_predict` on the calling thread."""
    for i in range(n_rows(store)):
        _row_logits(store, i, theta, out.shape[1], d, out[i])


@njit(**JIT)
def _run_gram(store, y, sw, shift, idx, start, stop, part):
    """Add ``w * z z'`` of rows ``start:stop`` to ``part``, ``z = [x - shift, 1, y]``."""
    part[:, :] = 0.0
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    d = part.shape[0] - 2
    for k in range(start, stop):
        i = idx[k] if gather else k
        s = sw[i] if weighted else 1.0
        t = y[i]
        a, b = span(store, i)
        for e in range(a, b):
            j, x = entry(store, i, e)
            if j < 0:
                continue
            u = s * (x - shift[j])
            # Both triangles, so that repeated columns in a row add up as in scipy.
            for f in range(a, b):
                m, v = entry(store, i, f)
                if m >= 0:
                    part[j, m] += u * (v - shift[m])
            part[j, d] += u
            part[j, d + 1] += u * t
        part[d, d] += s
        part[d, d + 1] += s * t
        part[d + 1, d + 1] += s * t * t


@njit(parallel=True, **JIT)
def sparse_gram(store, y, sw, shift, idx, total):
    """Add the weighted Gram matrix of ``[x - shift, 1, y]`` over the rows of
    ``store`` (those in ``idx``, when non-empty) to ``total``, ``(d + 2, d + 2)``:
    only the upper triangle of the last two columns is filled; see
    :func:`~fastgd.passes.add_gram`. Runs as :func:`sparse_pass` does: the
    same bits with any thread count."""
    n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
    width = total.shape[0]
    count = groups(n, width * width)
    parts = np.empty((count, width, width))
    for g in prange(count):
        _run_gram(store, y, sw, shift, idx, g * n // count, (g + 1) * n // count, parts[g])
    for g in range(count):
        total += parts[g]


@njit(**JIT)
def sparse_gram_serial(store, y, sw, shift, idx, total):
    """:func:`sparse_gram` on the calling thread: the same runs, the same bits."""
    n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
    width = total.shape[0]
    count = groups(n, width * width)
    part = np.empty((width, width))
    for g in range(count):
        _run_gram(store, y, sw, shift, idx, g * n // count, (g + 1) * n // count, part)
        total += part
