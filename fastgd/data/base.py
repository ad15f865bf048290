"""The source protocol: what every source of rows answers, local or distributed.

The solver and the problem talk to a source through a few calls only:

- :meth:`Source.reduce` folds a function over the rows (a full pass: sums,
  statistics), block by block here, partition by partition on Dask;
- :meth:`Source.first_message` finds the first bad value, for error messages;
- :meth:`Source.epochs` gives the runner of mini-batch epochs, which threads
  the parameters and the optimizer state through the units of an epoch;
- :meth:`Source.subset` holds rows out (early stopping), for either kind;
- :meth:`Source.with_target`, :meth:`Source.target_counts`,
  :meth:`Source.first_row` and :meth:`Source.decision`.

:class:`LocalSource` implements them over blocks of rows read in this
process; :class:`~fastgd.data.dask.DaskSource` runs the same local code on
each partition, on its worker.
"""

import re
from typing import NamedTuple

import numpy as np

from .._config import SHUFFLE_BUFFER_PIECES, piece_rows
from .._validation import first_nonfinite, is_sparse, readonly, unique_labels
from .coded import is_coded

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


class Rows(NamedTuple):
    """The rows one call of the mini-batch kernel visits: ``X[order]``, or all
    rows in stored order when ``order`` is empty."""

    X: np.ndarray
    y: np.ndarray
    #: Row weights, or an empty array for unit weights.
    w: np.ndarray
    order: np.ndarray
    #: Positions (in ``order``, or rows) where a unit ends: batches never span
    #: two units. Empty: one unit.
    bounds: np.ndarray


def row_shift(X, i, n_features):
    """Row ``i`` of the block rows ``X`` as the shift of centred sums: float64,
    0 on sparse columns (a shift would fill their zeros in)."""
    if is_coded(X):
        return X.row_shift(i)
    if is_sparse(X):
        return np.zeros(n_features)
    return X[i].astype(np.float64)


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
    """What every source answers; see the module docstring.

    A source has ``n_rows`` rows of ``n_features`` features, delivered as
    ``dtype`` (float32 or float64), split into *natural blocks*
    (``block_sizes``): slices of about 256 KiB for arrays and in-memory
    tables, record batches for Arrow IPC files, row groups for Parquet,
    partitions for Dask.
    """

    n_rows: int
    n_features: int
    dtype: np.dtype
    #: Names of the features (one per coefficient), or None for unnamed array columns.
    feature_names: list | None = None
    #: int64 array of the rows in each natural block.
    block_sizes: np.ndarray
    #: Whether blocks carry (encoded) targets; see :meth:`with_target`.
    has_target = False
    weighted = False
    #: Whether blocks hold rows as runs of entries: scipy.sparse CSR rows, or
    #: coded rows of numeric and categorical columns (:mod:`fastgd.data.coded`).
    sparse = False

    @property
    def input_names(self):
        """The input columns the features come from (differ from
        ``feature_names`` where a categorical column stands for several)."""
        return self.__dict__.get("input_names", self.feature_names)

    @input_names.setter
    def input_names(self, names):
        self.__dict__["input_names"] = names

    def centrable(self):
        """Which features mini-batch descent may centre: each costs every step
        of the lazy kernel (:mod:`fastgd.optim.sparse_epoch`) an update.
        All of dense rows, none of a sparse matrix."""
        return np.full(self.n_features, not self.sparse)

    @property
    def n_blocks(self):
        return len(self.block_sizes)

    def block_starts(self):
        return np.concatenate([[0], np.cumsum(self.block_sizes)[:-1]]).astype(np.int64)

    def reduce(self, fn, args, init, combine, columns=False):
        """Fold ``acc = fn(block, acc, *args)`` over the rows, starting from ``init``.

        Locally one accumulator passes through every block in order, so a
        fold that adds chunk sums in order gives the same bits however the
        rows are cut. Distributed sources fold each partition from its own
        copy of ``init`` and merge the results with ``combine(a, b)`` in a
        fixed order. ``columns=True`` offers :class:`ColumnBlock` objects
        where the data is held column by column.
        """
        raise NotImplementedError

    def first_message(self, fn, args):
        """The first non-None ``fn(blocks, *args)`` (a message naming a bad value), or None."""
        raise NotImplementedError

    def epochs(self, shuffle, buffer_rows, batch_size):
        """The runner of this source's mini-batch epochs: an object whose
        ``run(step, carry, rng)`` threads ``carry = step(rows, carry)`` through
        the :class:`Rows` of one epoch (see :class:`~fastgd.data.shuffle.EpochPlan`).

        ``shuffle`` is True (exact where the rows can be read at random, else
        block), "exact", "block" or False; ``buffer_rows`` the block-shuffle
        buffer (None: the default).
        """
        raise NotImplementedError

    def subset(self, split):
        """The rows :class:`~fastgd.data.subset.Split` ``split`` keeps, as a source."""
        raise NotImplementedError

    def first_row(self):
        """The first row as float64 (a shift close enough to the column means)."""
        raise NotImplementedError

    def target_counts(self, name="the target"):
        """The distinct raw target values, sorted, and how often each occurs
        (a TypeError naming ``name`` for labels that cannot be sorted together)."""
        raise NotImplementedError

    def raw_target_values(self):
        """``(targets, weights or None)`` of every row as numpy arrays, gathered here (for ``score``)."""
        raise NotImplementedError

    def with_target(self, encode, reweight=None):
        """A source whose blocks carry ``encode(raw targets)`` as float64 ``y``.

        ``reweight(raw targets)``, when given, multiplies the row weights (for
        class weights). ``encode=None`` gives a source without targets, for
        prediction.
        """
        raise NotImplementedError

    def decision(self, fn, args, width, dtype):
        """``fn(X, *args)`` over every row, of shape ``(n,)`` (``width`` None) or
        ``(n, width)``: a numpy array, or a Dask array for Dask data."""
        raise NotImplementedError


class LocalSource(Source):
    """A source read in this process, block by block.

    Full-batch passes read *pieces* of about 4 MiB, so that conversion buffers
    stay bounded and parallel calls stay long; natural blocks are the unit of
    the block shuffle and of sequential mini-batch epochs.

    Subclasses set the attributes and implement :meth:`blocks`, :meth:`fill`,
    :meth:`raw_targets` and :meth:`with_target`.
    """

    #: Whether rows can be read at random (an exact shuffle): in place through
    #: :meth:`zero_copy_rows`, or else through :meth:`gather`.
    random_access = False

    @property
    def piece_rows(self):
        """Rows per piece: the bound on conversion buffers."""
        return piece_rows(self.n_features, self.dtype.itemsize)

    # -- the protocol

    def reduce(self, fn, args, init, combine=None, columns=False):
        blocks = self.column_blocks() if columns else None
        acc = init
        for block in self.blocks() if blocks is None else blocks:
            acc = fn(block, acc, *args)
        return acc

    def first_message(self, fn, args):
        return fn(self.blocks(), *args)

    def epochs(self, shuffle, buffer_rows, batch_size):
        from .shuffle import EpochPlan

        if shuffle is True:
            shuffle = "exact" if self.random_access else "block"
        buffer_rows = buffer_rows or SHUFFLE_BUFFER_PIECES * self.piece_rows
        return EpochPlan(self, shuffle or None, buffer_rows, batch_size)

    def subset(self, split):
        from .subset import SubsetSource

        return SubsetSource(self, split.selections(self.block_sizes))

    def first_row(self):
        for block in self.blocks():
            return row_shift(block.X, block.rows[0] if len(block.rows) else 0, self.n_features)

    def target_counts(self, name="the target"):
        labels, counts = [], []
        for raw in self.raw_targets():
            block_labels, block_counts = unique_labels(raw, name, return_counts=True)
            labels.append(block_labels)
            counts.append(block_counts)
        seen, where = unique_labels(np.concatenate(labels), name, return_inverse=True)
        return seen, np.bincount(where, weights=np.concatenate(counts))

    def raw_target_values(self):
        weights = self.raw_weights()
        return np.concatenate(list(self.raw_targets())), None if weights is None else np.concatenate(list(weights))

    def decision(self, fn, args, width, dtype):
        parts = [block_output(fn, block, args) for block in self.blocks()]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    # -- blocks

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

    def gather(self, order, X, y, w):
        """Write rows ``order`` (positions in the source) into the buffers, for
        an exact shuffle of data that cannot be read in place."""
        raise self._no_random_access()

    def zero_copy_rows(self):
        """The whole data as one :class:`Block` without copying it, or None."""
        return None

    def column_blocks(self):
        """:class:`ColumnBlock` objects over all rows in order, or None if the
        data is not held column by column."""
        return None

    def raw_targets(self):
        """Yield the raw target values, block by block."""
        raise NotImplementedError

    def raw_weights(self):
        """The row weights as given, block by block (an iterable), or None for unit weights."""
        return None

    def _no_random_access(self):
        return ValueError(
            "shuffle='exact' needs random access to the rows, which this source (wide Arrow "
            "columns, or data read batch by batch) does not give; use shuffle='block', or "
            "shuffle=True, which picks it"
        )


class HeldTargets:
    """Targets and weights held as arrays beside the data (``_raw_y``, ``_w``),
    for sources that rebuild themselves with :meth:`_with` ``(y, w)``."""

    def raw_targets(self):
        yield self._raw_y

    def raw_weights(self):
        return [self._w] if self.weighted else None

    def with_target(self, encode, reweight=None):
        y = None if encode is None else np.asarray(encode(self._raw_y), dtype=np.float64)
        w = self._w if self.weighted else None
        if reweight is not None:
            w = reweight(self._raw_y) * (1.0 if w is None else w)
        return self._with(y, w)


def block_output(fn, block, args):
    """``fn(block.X, *args)``, with the rows of a data error counted from the start of the data."""
    try:
        return fn(block.X, *args)
    except ValueError as error:
        if not block.start:
            raise
        raise ValueError(shift_rows(str(error), block.start)) from error


def shift_rows(message, start):
    """Renumber ``at row i`` in a block's message as a row of the whole data."""
    return re.sub(r"at row (\d+)", lambda m: f"at row {int(m.group(1)) + start}", message)


def nonfinite_message(blocks, feature_names):
    """What :meth:`Source.first_message` runs to name the first NaN or infinity."""
    return first_nonfinite(blocks, feature_names)


def _readonly(a):
    return None if a is None else readonly(a)


def _weights(w):
    return NO_WEIGHTS if w is None else readonly(w)
