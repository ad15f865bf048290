"""One pass of column statistics: shifted sums, sums of squares, row extremes."""

import numpy as np
from numba import njit, prange

from .._config import JIT


@njit(parallel=True, **JIT)
def column_stats(X, sw, shift, center, inv_scale, idx, chunk_rows):
    """Weighted column sums of ``X - shift`` and of its square, and row extremes.

    Shifting by a value close to the column means (the first row will do) keeps
    the variance ``(S2 - S1**2 / W) / W`` free of cancellation. Row norms are
    taken of ``(x - center) * inv_scale``. ``idx``, when non-empty, selects
    the rows.

    Returns
    -------
    sums : (2, d) float64 array
        Sum of ``s * (x - shift)`` and of ``s * (x - shift)**2`` per column.
    extremes : (3,) float64 array
        Largest ``s * ||(x - center) * inv_scale||**2`` over rows, the weight sum and the largest
        weight, where ``s`` is the row's weight (1 when ``sw`` is empty).
    """
    d = X.shape[1]
    gather = idx.shape[0] > 0
    n = idx.shape[0] if gather else X.shape[0]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    parts = np.zeros((n_chunks, 2, d))
    part_extremes = np.zeros((n_chunks, 3))
    weighted = sw.shape[0] > 0
    for c in prange(n_chunks):
        part = parts[c]
        norm_max = 0.0
        weight_sum = 0.0
        weight_max = 0.0
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
        part_extremes[c, 0] = norm_max
        part_extremes[c, 1] = weight_sum
        part_extremes[c, 2] = weight_max
    sums = np.zeros((2, d))
    extremes = np.zeros(3)
    for c in range(n_chunks):
        for j in range(d):
            sums[0, j] += parts[c, 0, j]
            sums[1, j] += parts[c, 1, j]
        extremes[0] = max(extremes[0], part_extremes[c, 0])
        extremes[1] += part_extremes[c, 1]
        extremes[2] = max(extremes[2], part_extremes[c, 2])
    return sums, extremes
