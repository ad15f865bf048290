"""scipy.sparse matrices as a source, never densified.

The ``data``, ``indices`` and ``indptr`` of CSR matrices and arrays reach the
kernels without a copy (as read-only views, the way memory maps arrive, so
both share one compiled specialization); CSC and COO are converted to CSR
once, a copy of the nonzeros, and other formats through ``tocsr()``. The
whole matrix is one block for passes: the sparse kernels
(:mod:`fastgd.kernels.sparse`) cut it into runs of rows themselves. Checked
once, here: shape, numeric values, index ranges, ``indptr`` and NaN or
infinity, each error naming the row and column.
Mini-batch epochs read the rows in place, in any shuffle order, through the
lazy kernel of :mod:`fastgd.optim.sparse_epoch`.
"""

import numpy as np

from .._config import BLOCK_BYTES
from .._validation import check_sample_weight, check_target, describe, readonly
from .base import NO_WEIGHTS, Block, HeldTargets, LocalSource
from .dataset import Dataset


class SparseSource(HeldTargets, LocalSource):
    """A CSR matrix with its targets and weights (validated by :func:`open_sparse`)."""

    random_access = True
    sparse = True

    def __init__(self, X, y=None, w=None, raw_y=None):
        self._X = X
        self.n_rows, self.n_features = X.shape
        self.dtype = X.data.dtype
        self._y = None if y is None else readonly(y)
        self._w = NO_WEIGHTS if w is None else readonly(w)
        self._raw_y = raw_y
        self.has_target = y is not None
        self.weighted = w is not None
        self.block_sizes = natural_blocks(X.indptr)

    def blocks(self):
        # One block: the sparse kernels cut the rows into runs themselves.
        yield Block(0, self._X, self._y, self._w)

    def first_message(self, fn, args):
        # X was checked when the matrix was opened; only a target can be bad.
        if self._y is None or np.all(np.isfinite(self._y)):
            return None
        i = int(np.argmax(~np.isfinite(self._y)))
        return f"y contains {describe(self._y[i])} at row {i}"

    def zero_copy_rows(self):
        return Block(0, self._X, self._y, self._w)

    def _with(self, y, w):
        return SparseSource(self._X, y, w, self._raw_y)


def natural_blocks(indptr):
    """Rows per natural block (the unit of the block shuffle): runs of rows
    holding about :data:`~fastgd._config.BLOCK_BYTES` of values and indices."""
    n = indptr.shape[0] - 1
    per_block = max(1, BLOCK_BYTES // 12)
    cuts = np.searchsorted(indptr, np.arange(per_block, int(indptr[-1]), per_block), side="right") - 1
    ends = np.unique(np.concatenate([cuts[(cuts > 0) & (cuts < n)], [n]]))
    return np.diff(ends, prepend=0).astype(np.int64)


def as_csr(X, name="X", check_values=True):
    """``X`` as a checked CSR matrix of float32 or float64 values, its arrays
    read-only views (no copy when it already is one).

    ``check_values=False`` skips the pass over the arrays (indices, ``indptr``
    and values), for matrices already checked once, such as Dask chunks.

    The checks stream over the arrays in compiled loops: nothing of the size
    of the data is allocated, so a memory-mapped matrix larger than memory is
    checked in place (see :func:`~fastgd.data.csr_store.check_csr_arrays`).
    The arrays reach the kernels read-only, as memory maps do, so in-memory
    and mapped matrices share one compiled specialization.
    """
    import scipy.sparse as sp

    from .csr_store import check_csr_arrays, csr_view  # it imports this module

    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got a sparse array of shape {X.shape}")
    if not (sp.isspmatrix_csr(X) or isinstance(X, sp.csr_array)):
        X = X.tocsr()  # CSC, COO and the rest: converted once
    kind = X.data.dtype.kind
    if kind == "c":
        raise ValueError(f"{name} has dtype {X.data.dtype}: Complex data not supported; fastgd fits real numbers")
    if kind not in "biuf":
        raise TypeError(f"{name} has dtype {X.data.dtype}; fastgd needs numbers (bool, integer or float)")
    data = X.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    n, d = X.shape
    if n == 0:
        raise ValueError(f"{name} has 0 rows (shape={X.shape}); at least 1 row is required")
    if d == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    indptr, indices = X.indptr, X.indices
    if indptr.shape[0] != n + 1 or indptr[0] != 0 or indptr[-1] != indices.shape[0] or indices.shape[0] != data.shape[0]:
        raise ValueError(
            f"{name} is not a valid CSR matrix: indptr has {indptr.shape[0]} entries for {n} rows, starts at "
            f"{indptr[0] if len(indptr) else None} and ends at {indptr[-1] if len(indptr) else None}, with "
            f"{indices.shape[0]} indices and {data.shape[0]} values"
        )
    if check_values:
        check_csr_arrays(data, indices, indptr, d, name)
    return csr_view(data, indices, indptr, (n, d), sp.csr_array if isinstance(X, sp.csr_array) else sp.csr_matrix)


def open_sparse(X, target=None, weights=None):
    """A Dataset of a scipy.sparse matrix with target values (or None) and weights (or None)."""
    X = as_csr(X)
    if target is not None:
        target = check_target(target, X.shape[0])
    if weights is not None:
        weights = check_sample_weight(weights, X.shape[0])
    return Dataset(SparseSource(X, raw_y=target, w=weights), "sparse matrix", target=None if target is None else "y")
