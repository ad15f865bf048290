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

from .._config import JIT, LEAF, MIN_WAVE_CHUNKS, WAVE_BYTES, WAVE_CHUNKS
from .._threads import share
from .atomics import fetch_add
from .losses import loss_grad, softmax_loss_grad
from .prefetch import DISTANCE, prefetch_row


@njit(**LEAF)
def _term(loss, param, p, y, sw, i, weighted):
    """Row ``i``'s weighted loss, weighted derivative and weight."""
    value, r = loss_grad(loss, p, y[i], param)
    if weighted:
        s = sw[i]
        return value * s, r * s, s
    return value, r, 1.0


@njit(inline="always", **JIT)
def logits(x, theta, n_out, p):
    """Write the ``n_out`` linear predictors of row ``x`` into ``p``."""
    d = x.shape[0]
    for c in range(n_out):
        base = c * (d + 1)
        z = theta[base + d]
        for j in range(d):
            z += x[j] * theta[base + j]
        p[c] = z


def kernel_n_out(n_out):
    """``n_out`` as the kernels take it: None for one output, whose kernels
    then leave the softmax out (it is not compiled for them)."""
    return n_out if n_out > 1 else None


@njit(inline="always", **JIT)
def accumulate(X, y, sw, theta, loss, param, n_out, idx, start, stop, g):
    """Add the loss and gradient sums of some rows of ``X`` to ``g``.

    Parameters
    ----------
    X : (n, d) C-contiguous float32 or float64 array
    y, sw : (n,) float64 arrays; ``sw`` may be empty (unit weights)
    theta : (n_out * (d + 1),) float64 parameters
    loss, param : int code from :mod:`fastgd.kernels.losses` and its parameter
    n_out : int, outputs (classes of the softmax, else 1), or None for one
        output (see :func:`kernel_n_out`): Numba then compiles no softmax
        code, which a cold first fit would wait for
    idx : int64 array; when non-empty, row ``idx[k]`` is visited for each
        ``k`` in ``[start, stop)``, otherwise row ``k`` itself
    g : float64 array of at least ``n_out * (d + 1)`` entries; receives the
        gradient sums, laid out as ``theta``

    Returns
    -------
    loss_sum, weight_sum : float
    """
    if n_out is not None and n_out > 1:
        return _softmax_rows(X, y, sw, theta, n_out, idx, start, stop, g)
    loss_total, weight_total, gb = _rows(X, y, sw, theta, loss, param, idx, start, stop, stop, g)
    g[X.shape[1]] += gb
    return loss_total, weight_total


@njit(inline="always", **JIT)
def accumulate_blocked(X, y, sw, theta, loss, param, n_out, idx, start, stop, horizon, g):
    """:func:`accumulate`, taking single-output rows four at a time.

    Reading ``theta`` and ``g`` once for four rows, with four independent
    rows' memory requests in flight, measured faster for one thread (the
    mini-batch epoch) and slower when threads share the memory bus (the
    full-batch pass), which uses :func:`accumulate`. Rows up to position
    ``horizon`` are prefetched, so a batch requests the next one's first rows.
    """
    if n_out is not None and n_out > 1:
        return _softmax_rows(X, y, sw, theta, n_out, idx, start, stop, g)
    loss_total, weight_total, gb, k = _four_rows(
        X, y, sw, theta, loss, param, idx, start, stop, horizon, g
    )
    rest = _rows(X, y, sw, theta, loss, param, idx, k, stop, horizon, g)
    g[X.shape[1]] += gb + rest[2]
    return loss_total + rest[0], weight_total + rest[1]


@njit(**JIT)
def _rows(X, y, sw, theta, loss, param, idx, start, stop, horizon, g):
    """One row at a time; returns the loss, weight and intercept-gradient sums."""
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    b = theta[d]
    loss_total = weight_total = gb = 0.0
    for k in range(start, stop):
        # Rows in stored order need no hint: the hardware prefetcher sees the
        # stream, and the hints cost float32 passes a fifth of their time.
        if gather and k + DISTANCE < horizon:
            prefetch_row(X, y, sw, idx[k + DISTANCE])
        i = idx[k] if gather else k
        x = X[i]
        p = b
        for j in range(d):
            p += x[j] * theta[j]
        value, r, s = _term(loss, param, p, y, sw, i, weighted)
        loss_total += value
        weight_total += s
        gb += r
        for j in range(d):
            g[j] += r * x[j]
    return loss_total, weight_total, gb


@njit(**JIT)
def _four_rows(X, y, sw, theta, loss, param, idx, start, stop, horizon, g):
    """Four rows at a time while four remain; also returns where it stopped."""
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    b = theta[d]
    loss_total = weight_total = gb = 0.0
    k = start
    while k + 4 <= stop:
        # Hinted in stored order too: the four interleaved row streams lose
        # the hardware prefetcher, and a mini-batch epoch over unshuffled
        # rows took 2.9x a sequential read without the hints, 1.9x with.
        if k + DISTANCE + 4 <= horizon:
            for q in range(k + DISTANCE, k + DISTANCE + 4):
                prefetch_row(X, y, sw, idx[q] if gather else q)
        i0 = idx[k] if gather else k
        i1 = idx[k + 1] if gather else k + 1
        i2 = idx[k + 2] if gather else k + 2
        i3 = idx[k + 3] if gather else k + 3
        x0, x1, x2, x3 = X[i0], X[i1], X[i2], X[i3]
        p0 = p1 = p2 = p3 = b
        for j in range(d):
            w = theta[j]
            p0 += x0[j] * w
            p1 += x1[j] * w
            p2 += x2[j] * w
            p3 += x3[j] * w
        v0, r0, s0 = _term(loss, param, p0, y, sw, i0, weighted)
        v1, r1, s1 = _term(loss, param, p1, y, sw, i1, weighted)
        v2, r2, s2 = _term(loss, param, p2, y, sw, i2, weighted)
        v3, r3, s3 = _term(loss, param, p3, y, sw, i3, weighted)
        loss_total += (v0 + v1) + (v2 + v3)
        weight_total += (s0 + s1) + (s2 + s3)
        gb += (r0 + r1) + (r2 + r3)
        for j in range(d):
            g[j] += (r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j])
        k += 4
    return loss_total, weight_total, gb, k


@njit(**JIT)
def _softmax_rows(X, y, sw, theta, n_out, idx, start, stop, g):
    """The softmax over ``n_out`` classes, one row at a time."""
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    p = np.empty(n_out)
    r = np.empty(n_out)
    loss_total = weight_total = 0.0
    for k in range(start, stop):
        i = idx[k] if gather else k
        x = X[i]
        logits(x, theta, n_out, p)
        value = softmax_loss_grad(p, int(y[i]), r)
        s = sw[i] if weighted else 1.0
        if weighted:
            value *= s
            for c in range(n_out):
                r[c] *= s
        weight_total += s
        loss_total += value
        for c in range(n_out):
            base = c * (d + 1)
            rc = r[c]
            for j in range(d):
                g[base + j] += rc * x[j]
            g[base + d] += rc
    return loss_total, weight_total


@njit(**JIT)
def loss_sum(X, y, sw, theta, loss, param, n_out, idx, start, stop):
    """Weighted loss sum of the same rows as :func:`accumulate` (``n_out`` as
    there), without a gradient."""
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    total = 0.0
    if n_out is not None and n_out > 1:
        p = np.empty(n_out)
        r = np.empty(n_out)
        for k in range(start, stop):
            i = idx[k] if gather else k
            logits(X[i], theta, n_out, p)
            value = softmax_loss_grad(p, int(y[i]), r)
            total += value * sw[i] if weighted else value
        return total
    d = X.shape[1]
    for k in range(start, stop):
        i = idx[k] if gather else k
        x = X[i]
        p = theta[d]
        for j in range(d):
            p += x[j] * theta[j]
        value = loss_grad(loss, p, y[i], param)[0]
        total += value * sw[i] if weighted else value
    return total


@njit(inline="always", **JIT)
def _chunk_sums(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, n, c, part):
    """Write the sums of chunk ``c`` (rows ``c * chunk_rows`` on) into ``part``."""
    P = theta.shape[0]
    part[:] = 0.0
    start = c * chunk_rows
    loss_total, weight_total = accumulate(
        X, y, sw, theta, loss, param, n_out, idx, start, min(n, start + chunk_rows), part
    )
    part[P] = loss_total
    part[P + 1] = weight_total


@njit(inline="always", **JIT)
def wave_chunks(width):
    """Chunks summed per parallel wave into rows of ``width`` sums.

    :data:`~fastgd._config.WAVE_CHUNKS`, or fewer when their sums would take
    more than :data:`~fastgd._config.WAVE_BYTES`, but never fewer than
    :data:`~fastgd._config.MIN_WAVE_CHUNKS`, so that threads have work. How
    many does not change the result, which is folded in chunk order anyway.
    """
    return max(min(WAVE_CHUNKS, WAVE_BYTES // (8 * width)), MIN_WAVE_CHUNKS)


@njit(inline="always", **JIT)
def fold(total, parts, count):
    """Add the first ``count`` rows of ``parts`` to ``total``, one after the other."""
    for c in range(count):
        for j in range(total.shape[0]):
            total[j] += parts[c, j]


@njit(**JIT)
def pass_chunks(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, first, ticket, parts):
    """Claim chunks from ``ticket[0]`` until none is left, writing the sums of
    chunk ``first + c`` into ``parts[c]``: one thread's share of a wave.

    A chunk is summed in a buffer of the thread's own and then copied: the
    threads take neighbouring chunks at once, and adding every row into
    ``parts`` made them fight over the cache lines two rows share (two
    threads took as long as one).
    """
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    own = np.empty(parts.shape[1])
    while True:
        c = fetch_add(ticket, 0, 1)
        if c >= parts.shape[0]:
            return
        _chunk_sums(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, n, first + c, own)
        for j in range(own.shape[0]):
            parts[c, j] = own[j]


def full_pass(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, total, threads=1):
    """Add the loss and gradient sums over all rows of ``X`` (or those in ``idx``) to ``total``.

    Rows are cut into fixed chunks of ``chunk_rows``; each chunk sums into its
    own row of a buffer, and the rows are added to ``total`` one after the
    other in chunk order. So the result does not depend on ``threads`` (nor
    on :func:`full_pass_serial` being called instead), and passing the same
    ``total`` through consecutive blocks whose sizes are multiples of
    ``chunk_rows`` gives, bit for bit, the sums of one call over all of them.
    Chunks are taken a wave at a time (see :func:`wave_chunks`), which bounds
    the buffer whatever the number of rows; ``threads`` threads share each
    wave (:func:`fastgd._threads.share`).

    ``n_out`` is as for :func:`accumulate` (None: one output).
    ``total`` is a (P + 2,) float64 array, ``P = n_out * (d + 1)``: the
    gradient sums laid out as ``theta``, then the loss sum and the weight sum.
    """
    if threads <= 1:
        full_pass_serial(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, total)
        return
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    wave = wave_chunks.py_func(total.shape[0])
    parts = np.empty((min(n_chunks, wave), total.shape[0]))
    ticket = np.zeros(1, np.int64)
    for first in range(0, n_chunks, wave):
        count = min(wave, n_chunks - first)
        ticket[0] = 0
        share(pass_chunks, (X, y, sw, theta, loss, param, n_out, idx, chunk_rows, first, ticket, parts[:count]),
              min(threads, count))
        # In chunk order, one add after the other (an accumulate adds no other
        # way), as the serial kernel's ``fold``: the same bits.
        parts[0] += total
        np.add.accumulate(parts[:count], axis=0, out=parts[:count])
        total[:] = parts[count - 1]


@njit(**JIT)
def full_pass_serial(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, total):
    """:func:`full_pass` on the calling thread, in one compiled call: for work
    too small to pay for threads. The same chunks, summed in the same order: the same bits.
    """
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    part = np.empty((1, total.shape[0]))
    for c in range((n + chunk_rows - 1) // chunk_rows):
        _chunk_sums(X, y, sw, theta, loss, param, n_out, idx, chunk_rows, n, c, part[0])
        fold(total, part, 1)


@njit(inline="always", **JIT)
def _predict_row(X, theta, out, i):
    d = X.shape[1]
    for c in range(out.shape[1]):
        base = c * (d + 1)
        p = theta[base + d]
        for j in range(d):
            p += X[i, j] * theta[base + j]
        out[i, c] = p


@njit(parallel=True, **JIT)
def predict(X, theta, out):
    """Write the linear predictor of each output into ``out``, shape ``(n, n_out)``."""
    for i in prange(X.shape[0]):
        _predict_row(X, theta, out, i)


@njit(**JIT)
def predict_serial(X, theta, out):
    """:func:`predict` on the calling thread."""
    for i in range(X.shape[0]):
        _predict_row(X, theta, out, i)
