"""The weighted Gram matrix of dense rows ``[x - shift, 1, y]`` in one pass: the sums of exact least squares.

Written here, not left to BLAS, for three reasons measured on 1,000,000 x 100
float64 (2 cores): BLAS ``syrk`` needs the shifted, augmented rows as a copy,
and copying tiles for it took 0.42-0.68 s against 0.25-0.27 s here; OpenBLAS's
own threads and Numba's spin against each other when they alternate (an
``X.T @ X`` of 0.24 s took 0.45 s after a threaded Numba kernel had run); and
this kernel's sums are in a fixed order, the same bits with any thread count.

Rows are cut into runs fixed by the number of rows and features (never by the
threads); each run copies :data:`TILE` rows at a time, shifted, weighted by
``sqrt(w)`` and transposed, into a small buffer that stays in cache, and adds
the tile's products into its own matrix, two rows by four columns at a time
so that the sums stay in registers. The runs' matrices are added in order.

Rows held column by column (Arrow tables, Parquet) fill the tiles straight
from their columns (:func:`column_gram`): the tile is the transpose of a row
block, so a row-major copy of the block would only be transposed back.

Threads share the runs through a ticket counter, each in one call of the
same compiled kernel (:func:`gram_runs`, :func:`column_gram_runs`), started by
:func:`fastgd._threads.share`. A Numba parallel region around the runs
compiled 1.9 s longer (5.3 s against 3.5 s with an empty cache), in a pass
that every first least-squares fit needs.
"""

import numpy as np
from numba import njit

from .._config import JIT, SPARSE_BUFFER_BYTES, SPARSE_GROUP_ROWS, SPARSE_MAX_GROUPS
from .._threads import share
from .atomics import fetch_add
from .columns import column_view

#: Rows per tile: ``(d + 2) x TILE`` float64 stay in the L2 cache for d up to
#: a few hundred; 96 measured fastest of 32-512 at d = 100.
TILE = 96


def runs(n, width):
    """Runs of rows for a ``width x width`` sum: enough for threads, bounded in bytes (at least 4)."""
    by_bytes = max(4, SPARSE_BUFFER_BYTES // (8 * width * width))
    return max(1, min(SPARSE_MAX_GROUPS, by_bytes, n // SPARSE_GROUP_ROWS))


@njit(**JIT)
def _tile_products(Zt, G):
    """Add the products of the rows of ``Zt`` (``(D4, TILE)``) to ``G``'s upper triangle, 2 x 4 blocks at a time."""
    width = Zt.shape[0]
    for a in range(0, width, 2):
        for b in range(a - a % 4, width, 4):
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = 0.0
            for r in range(Zt.shape[1]):
                x0 = Zt[a, r]
                x1 = Zt[a + 1, r]
                y0 = Zt[b, r]
                y1 = Zt[b + 1, r]
                y2 = Zt[b + 2, r]
                y3 = Zt[b + 3, r]
                c00 += x0 * y0
                c01 += x0 * y1
                c02 += x0 * y2
                c03 += x0 * y3
                c10 += x1 * y0
                c11 += x1 * y1
                c12 += x1 * y2
                c13 += x1 * y3
            G[a, b] += c00
            G[a, b + 1] += c01
            G[a, b + 2] += c02
            G[a, b + 3] += c03
            G[a + 1, b] += c10
            G[a + 1, b + 1] += c11
            G[a + 1, b + 2] += c12
            G[a + 1, b + 3] += c13


@njit(inline="always", **JIT)
def _close_tile(Zt, m, part):
    """Zero the tile's columns from ``m`` on and add its products to ``part``."""
    for r in range(m, Zt.shape[1]):
        for j in range(Zt.shape[0]):
            Zt[j, r] = 0.0
    _tile_products(Zt, part)


@njit(**JIT)
def _run_gram(X, y, sw, shift, idx, start, stop, part, Zt):
    """Write the Gram sums of rows ``start:stop`` (of ``idx``, when given) into ``part``."""
    part[:] = 0.0
    Zt[:] = 0.0  # the padding rows stay 0
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    tile = Zt.shape[1]
    for s in range(start, stop, tile):
        m = min(tile, stop - s)
        for r in range(m):
            i = idx[s + r] if gather else s + r
            root = np.sqrt(sw[i]) if weighted else 1.0
            for j in range(d):
                Zt[j, r] = (X[i, j] - shift[j]) * root
            Zt[d, r] = root
            Zt[d + 1, r] = y[i] * root
        _close_tile(Zt, m, part)


@njit(**JIT)
def _column_run_gram(columns, like, y, sw, shift, start, stop, part, Zt):
    """:func:`_run_gram` over rows held column by column: the same tiles, the same bits."""
    part[:] = 0.0
    Zt[:] = 0.0
    d = columns.shape[0]
    weighted = sw.shape[0] > 0
    tile = Zt.shape[1]
    for s in range(start, stop, tile):
        m = min(tile, stop - s)
        for r in range(m):
            root = np.sqrt(sw[s + r]) if weighted else 1.0
            Zt[d, r] = root
            Zt[d + 1, r] = y[s + r] * root
        for j in range(d):
            values = column_view(columns, j, like, s, m)
            for r in range(m):
                Zt[j, r] = (values[r] - shift[j]) * Zt[d, r]
        _close_tile(Zt, m, part)


@njit(**JIT)
def gram_runs(X, y, sw, shift, idx, ticket, parts):
    """Claim runs from ``ticket[0]`` until none is left, writing run ``g``'s sums into ``parts[g]``."""
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    count = parts.shape[0]
    Zt = np.empty((parts.shape[1], TILE))
    while True:
        g = fetch_add(ticket, 0, 1)
        if g >= count:
            return
        _run_gram(X, y, sw, shift, idx, g * n // count, (g + 1) * n // count, parts[g], Zt)


@njit(**JIT)
def column_gram_runs(columns, like, n, y, sw, shift, ticket, parts):
    """:func:`gram_runs` over ``n`` rows held column by column."""
    count = parts.shape[0]
    Zt = np.empty((parts.shape[1], TILE))
    while True:
        g = fetch_add(ticket, 0, 1)
        if g >= count:
            return
        _column_run_gram(columns, like, y, sw, shift, g * n // count, (g + 1) * n // count, parts[g], Zt)


def dense_gram(X, y, sw, shift, idx, total, threads=1):
    """Add the weighted Gram matrix of ``[x - shift, 1, y]`` over the rows of
    ``X`` (those in ``idx``, when non-empty) to ``total``, ``(d + 2, d + 2)``,
    symmetric, on ``threads`` threads: the same bits with any number (see the module)."""
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    _share_runs(gram_runs, (X, y, sw, shift, idx), n, total, threads)


def column_gram(columns, like, n, y, sw, shift, total, threads=1):
    """:func:`dense_gram` over ``n`` rows held column by column: ``columns``
    holds the addresses of the feature columns, each ``n`` contiguous values
    of ``like``'s dtype, which the caller keeps alive. The same bits as
    :func:`dense_gram` over the same rows in a row-major array."""
    _share_runs(column_gram_runs, (columns, like, n, y, sw, shift), n, total, threads)


def _share_runs(kernel, args, n, total, threads):
    """Run ``kernel(*args, ticket, parts)`` on ``threads`` threads and add the runs' sums to ``total`` in order."""
    padded = (total.shape[0] + 3) // 4 * 4
    parts = np.empty((runs(n, padded), padded, padded))
    share(kernel, (*args, np.zeros(1, np.int64), parts), min(threads, parts.shape[0]))
    width = total.shape[0]
    summed = parts.sum(axis=0)[:width, :width]  # the runs in order: the products fill the upper triangle
    total += np.triu(summed) + np.triu(summed, 1).T
