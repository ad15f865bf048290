"""scipy.sparse matrices as a source, never densified.

CSR matrices and arrays reach the kernels as they are (their ``data``,
``indices`` and ``indptr``); CSC and COO are converted to CSR once, a copy of
the nonzeros, and other formats through ``tocsr()``. The whole matrix is one
block: the sparse kernels (:mod:`fastgd.kernels.sparse`) cut it into runs of
rows themselves. Checked once, here: shape, numeric values, index ranges,
``indptr`` and NaN or infinity, each error naming the row and column.
Mini-batch descent on sparse rows (lazy updates) is not available yet.
"""

import numpy as np

from .._validation import check_sample_weight, check_target, readonly
from .base import NO_WEIGHTS, Block, HeldTargets, LocalSource
from .dataset import Dataset


class SparseSource(HeldTargets, LocalSource):
    """A CSR matrix with its targets and weights (validated by :func:`open_sparse`)."""

    random_access = False

    def __init__(self, X, y=None, w=None, raw_y=None):
        self._X = X
        self.n_rows, self.n_features = X.shape
        self.dtype = X.data.dtype
        self._y = None if y is None else readonly(y)
        self._w = NO_WEIGHTS if w is None else readonly(w)
        self._raw_y = raw_y
        self.has_target = y is not None
        self.weighted = w is not None
        self.block_sizes = np.array([self.n_rows], np.int64)

    def blocks(self):
        yield Block(0, self._X, self._y, self._w)

    def block(self, k):
        return Block(0, self._X, self._y, self._w)

    def first_message(self, fn, args):
        return None  # values were checked when the matrix was opened

    def epochs(self, shuffle, buffer_rows, batch_size):
        raise ValueError(
            "mini-batch descent on sparse X is not available yet; use full batch (batch_size=None), "
            "or X.toarray() if it fits in memory"
        )

    def _with(self, y, w):
        return SparseSource(self._X, y, w, self._raw_y)


def as_csr(X, name="X"):
    """``X`` as a checked CSR matrix of float32 or float64 values (no copy when it already is one)."""
    import scipy.sparse as sp

    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got a sparse array of shape {X.shape}")
    if not (sp.isspmatrix_csr(X) or isinstance(X, sp.csr_array)):
        X = X.tocsr()  # CSC, COO and the rest: converted once
    kind = X.data.dtype.kind
    if kind == "c":
        raise ValueError(f"{name} has dtype {X.data.dtype}: Complex data not supported; fastgd fits real numbers")
    if kind not in "biuf":
        raise TypeError(f"{name} has dtype {X.data.dtype}; fastgd needs numbers (bool, integer or float)")
    if X.data.dtype not in (np.float32, np.float64):
        X = sp.csr_matrix((X.data.astype(np.float64), X.indices, X.indptr), shape=X.shape)
    n, d = X.shape
    if n == 0:
        raise ValueError(f"{name} has 0 rows (shape={X.shape}); at least 1 row is required")
    if d == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    indptr, indices = X.indptr, X.indices
    if indptr.shape[0] != n + 1 or indptr[0] != 0 or indptr[-1] != indices.shape[0] or indices.shape[0] != X.data.shape[0]:
        raise ValueError(
            f"{name} is not a valid CSR matrix: indptr has {indptr.shape[0]} entries for {n} rows, starts at "
            f"{indptr[0] if len(indptr) else None} and ends at {indptr[-1] if len(indptr) else None}, with "
            f"{indices.shape[0]} indices and {X.data.shape[0]} values"
        )
    falls = np.flatnonzero(np.diff(indptr) < 0)
    if falls.size:
        raise ValueError(f"{name} is not a valid CSR matrix: indptr decreases at row {falls[0]}")
    if indices.size:
        bad = np.flatnonzero((indices < 0) | (indices >= d))
        if bad.size:
            k = bad[0]
            raise ValueError(
                f"{name} has column index {indices[k]} at row {_row_of(indptr, k)}, outside [0, {d})"
            )
        finite = np.isfinite(X.data)
        if not finite.all():
            k = int(np.argmin(finite))
            value = X.data[k]
            shown = "NaN" if np.isnan(value) else repr(float(value))
            raise ValueError(
                f"{name} contains {shown} at row {_row_of(indptr, k)}, column {indices[k]}; "
                "remove or impute non-finite values"
            )
    return X


def _row_of(indptr, k):
    return int(np.searchsorted(indptr, k, side="right") - 1)


def open_sparse(X, target=None, weights=None):
    """A Dataset of a scipy.sparse matrix with target values (or None) and weights (or None)."""
    X = as_csr(X)
    if target is not None:
        target = check_target(target, X.shape[0])
    if weights is not None:
        weights = check_sample_weight(weights, X.shape[0])
    return Dataset(SparseSource(X, raw_y=target, w=weights), "sparse matrix", target=None if target is None else "y")
