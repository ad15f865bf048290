"""Rows stored as their nonzero entries: CSR matrices and coded (categorical) rows.

The sparse kernels (:mod:`fastgd.kernels.sparse`,
:mod:`fastgd.optim.sparse_epoch`) visit a row as a run of entries ``(j, x)``:
feature ``j`` has value ``x``. Two storages give such runs:

- :class:`CSRStore`, a CSR matrix: row ``i``'s entries are
  ``indices[indptr[i]:indptr[i+1]]`` with their ``data``;
- :class:`CodedStore`, rows of numeric and categorical columns: the first
  ``d`` entries are the numeric values (features ``0 .. d-1``, present in
  every row), then one entry per categorical column: the feature of the
  row's category (its code, already offset to the feature's index) with
  value 1, or the hashed bucket with its sign. A code of -1 (a category the
  mapping has not seen) is an entry with ``j < 0``, which the kernels skip.
  No one-hot matrix exists: a categorical entry is an integer code.

:func:`n_rows`, :func:`span` and :func:`entry` are overloaded on the storage
type, so each kernel is written once and compiled for each storage, with
the accessors inlined.
"""

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import overload

from .._config import JIT
from .prefetch import _prefetch_1d, _prefetch_2d


class CSRStore(NamedTuple):
    """A CSR matrix's arrays."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray


class CodedStore(NamedTuple):
    """Rows of ``d`` numeric columns and ``c`` categorical ones."""

    #: (rows, d) C-contiguous float32 or float64: the numeric columns.
    values: np.ndarray
    #: (rows, c) int32 feature indices of the rows' categories, or -1.
    codes: np.ndarray
    #: (rows, c) float64 signs of hashed columns (1.0 for the others), or (0, 0) when no column is hashed.
    signs: np.ndarray


def n_rows(store):
    """Rows in the storage."""


def span(store, i):
    """``(a, b)``: the entries of row ``i`` are ``entry(store, i, e)`` for ``a <= e < b``."""


def entry(store, i, e):
    """``(j, x)``: entry ``e`` of row ``i``; ``j < 0`` for an entry to skip."""


def prefetch_entries(store, i):
    """Request the cache lines of row ``i``'s entries (a shuffled epoch reads
    rows at random: see :mod:`fastgd.kernels.prefetch`). For CSR this reads
    ``indptr[i]``: request it first with :func:`prefetch_span`."""


def prefetch_span(store, i):
    """Request the cache line saying where row ``i``'s entries are (CSR's ``indptr[i]``)."""


def _kind(store):
    if isinstance(store, types.BaseNamedTuple):
        return store.instance_class
    return None


@overload(n_rows, jit_options=JIT)
def _n_rows(store):
    if _kind(store) is CSRStore:
        return lambda store: store.indptr.shape[0] - 1
    if _kind(store) is CodedStore:
        return lambda store: store.codes.shape[0]


@overload(span, jit_options=JIT)
def _span(store, i):
    if _kind(store) is CSRStore:
        return lambda store, i: (store.indptr[i], store.indptr[i + 1])
    if _kind(store) is CodedStore:
        return lambda store, i: (0, store.values.shape[1] + store.codes.shape[1])


@overload(entry, jit_options=JIT)
def _entry(store, i, e):
    if _kind(store) is CSRStore:
        return lambda store, i, e: (store.indices[e], store.data[e])
    if _kind(store) is CodedStore:

        def coded_entry(store, i, e):
            d = store.values.shape[1]
            if e < d:
                return np.int64(e), np.float64(store.values[i, e])
            c = e - d
            sign = store.signs[i, c] if store.signs.shape[0] > 0 else 1.0
            return np.int64(store.codes[i, c]), np.float64(sign)

        return coded_entry


@overload(prefetch_entries, jit_options=JIT)
def _prefetch_entries(store, i):
    if _kind(store) is CSRStore:

        def csr_prefetch(store, i):
            a, b = store.indptr[i], store.indptr[i + 1]
            for e in range(a, b, 64 // store.indices.itemsize):
                _prefetch_1d(store.indices, e)
            for e in range(a, b, 64 // store.data.itemsize):
                _prefetch_1d(store.data, e)

        return csr_prefetch
    if _kind(store) is CodedStore:

        def coded_prefetch(store, i):
            if store.values.shape[1] > 0:
                _prefetch_2d(store.values, i, 0)
            if store.codes.shape[1] > 0:
                _prefetch_2d(store.codes, i, 0)
            if store.signs.shape[0] > 0:
                _prefetch_2d(store.signs, i, 0)

        return coded_prefetch


@overload(prefetch_span, jit_options=JIT)
def _prefetch_span(store, i):
    if _kind(store) is CSRStore:

        def csr_span(store, i):
            _prefetch_1d(store.indptr, i)

        return csr_span
    if _kind(store) is CodedStore:
        return lambda store, i: None  # a coded row's entries are where its index says
