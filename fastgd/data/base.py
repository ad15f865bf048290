"""The source protocol: rows of (X, y, w), served as blocks of rows."""

from typing import NamedTuple

import numpy as np

from .._config import piece_rows
from .._validation import readonly


NO_WEIGHTS = readonly(np.empty(0))
#: An empty row order: the kernels then visit every row in its stored order.
ALL_ROWS = readonly(np.empty(0, np.int64))


class Block(NamedTuple):
    """Rows ``start, start + 1, ...`` of a source, ready for the kernels."""

    start: int
    #: (rows, d) C-contiguous float32 or float64, read-only.
    X: np.ndarray
    #: (rows,) float64 encoded targets, or None for a source without a target.
    y: np.ndarray | None
    #: (rows,) float64 weights, or an empty array for unit weights.
    w: np.ndarray
    #: Which rows of ``X`` belong to the data (never empty), or ALL_ROWS.
    rows: np.ndarray = ALL_ROWS


class ColumnBlock(NamedTuple):
    """Rows of a source held column by column, for the columnar pass."""

    start: int
    #: (d,) int64 addresses of the feature columns, each ``rows`` contiguous values.
    columns: np.ndarray
    #: An empty array of the columns' dtype.
    like: np.ndarray
    rows: int
    y: np.ndarray | None
    w: np.ndarray
    #: The objects that own the column buffers, kept alive with the block.
    owners: list


class Source:
    """Base class of the data sources.

    A source has ``n_rows`` rows of ``n_features`` features, delivered as
    ``dtype`` (float32 or float64), split into *natural blocks*: slices of
    about 256 KiB for arrays and in-memory tables, record batches for Arrow
    IPC files, row groups for Parquet. Natural blocks are the unit of the
    block shuffle and of sequential mini-batch epochs. Full-batch passes read
    *pieces* of about 4 MiB instead, so that conversion buffers stay bounded
    and parallel calls stay long.

    Subclasses set the attributes and implement :meth:`blocks`, :meth:`fill`,
    :meth:`raw_targets` and :meth:`with_target`.
    """

    n_rows: int
    n_features: int
    dtype: np.dtype
    #: Column names of the features, or None for unnamed array columns.
    feature_names: list | None = None
    #: int64 array of the rows in each natural block.
    block_sizes: np.ndarray
    #: Whether :meth:`rows` gives the whole data for random row access.
    random_access = False
    #: Whether blocks carry (encoded) targets; see :meth:`with_target`.
    has_target = False
    weighted = False
    #: Whether the rows live on Dask workers (see :mod:`fastgd.data.dask`):
    #: work is then sent to them, and :meth:`blocks` is not available.
    distributed = False

    @property
    def n_blocks(self):
        return len(self.block_sizes)

    @property
    def piece_rows(self):
        """Rows per piece: the bound on conversion buffers."""
        return piece_rows(self.n_features, self.dtype.itemsize)

    def block_starts(self):
        return np.concatenate([[0], np.cumsum(self.block_sizes)[:-1]]).astype(np.int64)

    def blocks(self):
        """Yield all rows as :class:`Block` objects, in order (buffers may be reused)."""
        raise NotImplementedError

    def sequential(self):
        """Natural blocks in stored order, as :class:`Block` objects."""
        for k in range(self.n_blocks):
            yield self.block(k)

    def selected(self, k):
        """Rows of natural block ``k`` that belong to the data; None for all."""
        return None

    def block(self, k):
        """Natural block ``k`` as a :class:`Block` (may live in a reused buffer)."""
        rows = int(self.block_sizes[k])
        buffers = getattr(self, "_buffers", None)
        if buffers is None or buffers[0].shape[0] < rows:
            buffers = self._buffers = self.allocate(int(self.block_sizes.max()))
        X, y, w = (None if a is None else a[:rows] for a in buffers)
        self.fill(k, X, y, w)
        return Block(int(self.block_starts()[k]), readonly(X), _readonly(y), _weights(w))

    def allocate(self, rows):
        """Buffers ``(X, y, w)`` for ``rows`` rows; ``y``, ``w`` are None when absent."""
        return (
            np.empty((rows, self.n_features), self.dtype),
            np.empty(rows) if self.has_target else None,
            np.empty(rows) if self.weighted else None,
        )

    def fill(self, k, X, y, w):
        """Write natural block ``k`` into ``X`` and, when present, ``y`` and ``w``."""
        raise NotImplementedError

    def zero_copy_rows(self):
        """The whole data as one :class:`Block` without copying it, or None."""
        return None

    def column_blocks(self):
        """:class:`ColumnBlock` objects over all rows in order, or None if the
        data is not held column by column."""
        return None

    def rows(self):
        """The whole data as one :class:`Block`, for random row access."""
        raise ValueError(
            "shuffle='exact' needs random access to the rows, which this source (wide Arrow "
            "columns, or data read batch by batch) does not give; use shuffle='block', or "
            "shuffle=True, which picks it"
        )

    def raw_targets(self):
        """Yield the raw target values, block by block."""
        raise NotImplementedError

    def target_counts(self):
        """The distinct raw target values, sorted, and how often each occurs."""
        labels, counts = [], []
        for raw in self.raw_targets():
            block_labels, block_counts = np.unique(raw, return_counts=True)
            labels.append(block_labels)
            counts.append(block_counts)
        seen, where = np.unique(np.concatenate(labels), return_inverse=True)
        return seen, np.bincount(where, weights=np.concatenate(counts))

    def with_target(self, encode, reweight=None):
        """A source whose blocks carry ``encode(raw targets)`` as float64 ``y``.

        ``reweight(raw targets)``, when given, multiplies the row weights (for
        class weights). ``encode=None`` gives a source without targets, for
        prediction.
        """
        raise NotImplementedError


def _readonly(a):
    return None if a is None else readonly(a)


def _weights(w):
    return NO_WEIGHTS if w is None else readonly(w)
