"""One pass of column statistics: shifted sums, sums of squares, row extremes."""

import numpy as np
from numba import njit

from .._config import JIT
from .._threads import share
from .atomics import fetch_add
from .fused import wave_chunks


@njit(inline="always", **JIT)
def _stats_chunk(X, sw, shift, center, inv_scale, idx, chunk_rows, n, c, part, extremes):
    """Write chunk ``c``'s shifted sums into ``part`` (2, d) and its extremes into ``extremes`` (3,)."""
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    part[:] = 0.0
    norm_max = weight_sum = weight_max = 0.0
    for k in range(c * chunk_rows, min(n, (c + 1) * chunk_rows)):
        i = idx[k] if gather else k
        s = sw[i] if weighted else 1.0
        norm = 0.0
        for j in range(d):
            x = X[i, j]
            z = x - shift[j]
            part[0, j] += s * z
            part[1, j] += s * z * z
            u = (x - center[j]) * inv_scale[j]
            norm += u * u
        norm_max = max(norm_max, s * norm)
        weight_sum += s
        weight_max = max(weight_max, s)
    extremes[0] = norm_max
    extremes[1] = weight_sum
    extremes[2] = weight_max


@njit(**JIT)
def _fold_stats(sums, extremes, parts, part_extremes, count):
    """Add chunk results to the totals in chunk order; maxima take the larger."""
    for c in range(count):
        sums += parts[c]
        extremes[0] = max(extremes[0], part_extremes[c, 0])
        extremes[1] += part_extremes[c, 1]
        extremes[2] = max(extremes[2], part_extremes[c, 2])


@njit(**JIT)
def stats_chunks(X, sw, shift, center, inv_scale, idx, chunk_rows, first, count, ticket, parts, part_extremes):
    """Claim chunks ``first + c`` from ``ticket[0]`` until ``count`` are taken, each into row ``c`` of the buffers.

    Each chunk is summed in a buffer of the thread's own, then copied (see
    :func:`~fastgd.kernels.fused.pass_chunks`).
    """
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    own = np.empty((2, X.shape[1]))
    while True:
        c = fetch_add(ticket, 0, 1)
        if c >= count:
            return
        _stats_chunk(X, sw, shift, center, inv_scale, idx, chunk_rows, n, first + c, own, part_extremes[c])
        for j in range(X.shape[1]):
            parts[c, 0, j] = own[0, j]
            parts[c, 1, j] = own[1, j]


def column_stats(X, sw, shift, center, inv_scale, idx, chunk_rows, sums, extremes, threads=1):
    """Add weighted column sums of ``X - shift`` and of its square, and row extremes, to ``sums`` and ``extremes``.

    Shifting by a value close to the column means (the first row will do) keeps
    the variance ``(S2 - S1**2 / W) / W`` free of cancellation. Row norms are
    taken of ``(x - center) * inv_scale``. ``idx``, when non-empty, selects
    the rows. Chunks, waves and the order of summation are those of
    :func:`~fastgd.kernels.fused.full_pass`: the result does not depend on
    ``threads``, and passing the same accumulators through consecutive
    blocks gives the bits of one call over all of them.

    The threads are started for each wave (:func:`fastgd._threads.share`),
    which costs little in a pass made once a fit; a Numba parallel region
    here compiled 2 s longer than the serial code.

    Parameters
    ----------
    sums : (2, d) float64 array
        Receives the sums of ``s * (x - shift)`` and of ``s * (x - shift)**2`` per column.
    extremes : (3,) float64 array
        Receives the largest ``s * ||(x - center) * inv_scale||**2`` over rows, the weight sum
        and the largest weight, where ``s`` is the row's weight (1 when ``sw`` is empty).
    """
    d = X.shape[1]
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    wave = wave_chunks.py_func(2 * d + 3)
    parts = np.empty((min(n_chunks, wave), 2, d))
    part_extremes = np.empty((min(n_chunks, wave), 3))
    for first in range(0, n_chunks, wave):
        count = min(wave, n_chunks - first)
        args = (X, sw, shift, center, inv_scale, idx, chunk_rows, first, count, np.zeros(1, np.int64), parts,
                part_extremes)
        share(stats_chunks, args, min(threads, count))
        _fold_stats.py_func(sums, extremes, parts, part_extremes, count)  # a few adds a chunk: not worth compiling
