"""What one block adds to a full pass: the folds :meth:`Source.reduce` runs.

Each function folds one block into an accumulator and returns it, choosing
the row or column kernel for the block's layout and the threaded or serial
kernel for its size (the two give the same bits). They live at module level
so that Dask workers can run them on their partitions.
"""

import numpy as np

from . import _threads
from ._config import CHUNK_ROWS, GRAM_THREAD_WORK, PASS_THREAD_WORK, STATS_THREAD_WORK
from ._validation import first_nonfinite, kernel_dtype, readonly
from .data.base import NO_WEIGHTS, Block, ColumnBlock
from .kernels.columns import column_pass, column_pass_serial
from .kernels.fused import full_pass, kernel_n_out, predict, predict_serial
from .kernels.gram import column_gram, dense_gram
from .kernels.losses import constant_losses
from .data.coded import has_entries, store_of
from .kernels.sparse import (
    sparse_gram, sparse_gram_serial, sparse_pass, sparse_pass_serial, sparse_predict, sparse_predict_serial,
    sparse_stats, sparse_stats_serial,
)
from .kernels.stats import column_stats


def add_sums(block, total, raw, loss, param, n_out):
    """Add a block's gradient, loss and weight sums (see ``full_pass``) to ``total``."""
    if isinstance(block, ColumnBlock):
        kernel = _threads.kernel(column_pass, column_pass_serial, block.rows * raw.shape[0])
        kernel(block.columns, block.like, block.rows, block.y, block.w, raw, loss, param, CHUNK_ROWS, total)
        return total
    if has_entries(block.X):
        X = block.X
        kernel = _threads.kernel(sparse_pass, sparse_pass_serial, X.nnz * n_out)
        kernel(store_of(X), block.y, block.w, raw, loss, param, n_out, X.shape[1], block.rows, total)
        return total
    rows = len(block.rows) if len(block.rows) else block.X.shape[0]
    threads = _threads.count(rows * raw.shape[0], PASS_THREAD_WORK)
    full_pass(block.X, block.y, block.w, raw, loss, param, kernel_n_out(n_out), block.rows, CHUNK_ROWS, total, threads)
    return total


def add_constant_losses(block, acc, b, loss, param):
    """Add a block's loss and weight sums at constant predictions ``b`` (see
    :func:`~fastgd.kernels.losses.constant_losses`) to ``acc``: the targets only."""
    loss_total, weight_total = constant_losses(loss, param, b, block.y, block.w, block.rows, kernel_n_out(b.shape[0]))
    return acc + np.array([loss_total, weight_total])


def add_stats(block, acc, shift, center, inv_scale):
    """Add a block's shifted column sums to ``acc = (sums, extremes)`` in place; maxima take the larger."""
    if has_entries(block.X):  # its source gives a shift of 0 where entries may be missing
        X = block.X
        kernel = _threads.kernel(sparse_stats, sparse_stats_serial, X.nnz)
        kernel(store_of(X), block.w, shift, center, inv_scale, block.rows, *acc)
        return acc
    rows = len(block.rows) if len(block.rows) else block.X.shape[0]
    threads = _threads.count(rows * block.X.shape[1], STATS_THREAD_WORK)
    column_stats(block.X, block.w, shift, center, inv_scale, block.rows, CHUNK_ROWS, *acc, threads)
    return acc


def add_gram(block, total, shift):
    """Add a block's weighted Gram matrix of ``z = [x - shift, 1, y]`` to ``total``
    (``(d + 2, d + 2)``; rows ``d`` and ``d + 1`` hold only their upper triangle:
    ``sum(w)``, ``sum(w y)``, ``sum(w y**2)``)."""
    if isinstance(block, ColumnBlock):
        threads = _threads.count(block.rows * total.shape[0] ** 2, GRAM_THREAD_WORK)
        column_gram(block.columns, block.like, block.rows, block.y, block.w, shift, total, threads)
        return total
    if has_entries(block.X):
        X = block.X
        kernel = _threads.kernel(sparse_gram, sparse_gram_serial, X.nnz * X.nnz // max(1, X.shape[0]))
        kernel(store_of(X), block.y, block.w, shift, block.rows, total)
        return total
    rows = len(block.rows) if len(block.rows) else block.X.shape[0]
    threads = _threads.count(rows * total.shape[0] ** 2, GRAM_THREAD_WORK)
    dense_gram(block.X, block.y, block.w, shift, block.rows, total, threads)
    return total


def add_gram_blas(block, total, shift):
    """:func:`add_gram` for dense row blocks by numpy's matrix product: nothing
    to compile, for a Gram matrix taken once after a fit whose kernels did
    not need one (the compiled Gram kernel cost a cold mini-batch fit 2-3 s).
    The product's memory is a block's; other layouts take :func:`add_gram`."""
    if isinstance(block, ColumnBlock) or has_entries(block.X):
        return add_gram(block, total, shift)
    X, y, w = block.X, block.y, block.w
    if len(block.rows):
        X, y, w = X[block.rows], y[block.rows], w[block.rows] if len(w) else w
    d = X.shape[1]
    Z = np.empty((X.shape[0], d + 2))
    np.subtract(X, shift, out=Z[:, :d])
    Z[:, d] = 1.0
    Z[:, d + 1] = y
    total += (Z.T * w) @ Z if len(w) else Z.T @ Z
    return total


def combine_stats(a, b):
    """Merge two ``(sums, extremes)`` pairs: sums add, maxima take the larger."""
    (sums_a, ext_a), (sums_b, ext_b) = a, b
    return sums_a + sums_b, np.array([max(ext_a[0], ext_b[0]), ext_a[1] + ext_b[1], max(ext_a[2], ext_b[2])])


def decision(X, theta, n_out):
    """Decision values of rows of any numeric dtype and layout: ``(n,)``, or
    ``(n, n_out)`` for the softmax. Blocks of a source are used as they are."""
    if has_entries(X):  # checked when it was opened
        out = np.empty((X.shape[0], n_out))
        kernel = _threads.kernel(sparse_predict, sparse_predict_serial, X.nnz * n_out)
        kernel(store_of(X), theta, X.shape[1], out)
        return out[:, 0] if n_out == 1 else out
    X = readonly(np.ascontiguousarray(X, dtype=kernel_dtype(X.dtype)))
    out = np.empty((X.shape[0], n_out))
    _threads.kernel(predict, predict_serial, X.shape[0] * theta.shape[0])(X, theta, out)
    if not np.all(np.isfinite(out)):
        # NaN or infinity in X: name it (rows counted from the block's start).
        bad = first_nonfinite([Block(0, X, None, NO_WEIGHTS)])
        if bad is not None:
            raise ValueError(f"{bad}; remove or impute non-finite values before predicting")
    return out[:, 0] if n_out == 1 else out
