"""Arrow data with categorical columns as a source of coded rows.

A :class:`CodedArrowSource` reads numeric columns as values and each
categorical column (:func:`~fastgd.data.categories.is_categorical`) as one
integer code per row, the feature of the row's category, into
:class:`~fastgd.data.coded.CodedX` blocks; the sparse kernels add the
category's weight through the code. No one-hot matrix is built.

The mapping of each column (:class:`~fastgd.data.categories.Categories`) is
fixed when the source is opened: given (a fitted model's, for prediction and
``partial_fit``) or built from the data with one read of the categorical
columns only. Values the mapping lacks get code -1 and add nothing; they are
counted per column (:meth:`CodedArrowSource.take_unknown`) or, with
``handle_unknown="error"``, raise a ValueError naming the column, the count
and a value.

Coded rows of in-memory tables, and of any data whose coded rows are small,
are built once and kept (see :data:`~fastgd._config.CODED_CACHE_BYTES`):
later passes read them in place, and an exact shuffle reads them at random.
Larger streamed data is coded piece by piece into bounded buffers.
"""

from typing import NamedTuple

import numpy as np
import pyarrow as pa

from .._config import CENTRED_CATEGORIES, CODED_CACHE_BYTES, SMALL_DATA_BYTES, piece_rows
from .._validation import readonly
from .arrow import ArrowSource, _numbers
from .base import NO_WEIGHTS, Block, HeldTargets, LocalSource, _readonly, _weights
from .categories import MAX_CATEGORIES, categories_of, codes_of, hashed_codes_of, merged
from .coded import NO_SIGNS, CodedX

HANDLE_UNKNOWN = ("ignore", "error")


class Coding(NamedTuple):
    """How categorical columns are coded.

    ``categories`` maps column names to fixed
    :class:`~fastgd.data.categories.Categories` (a fitted model's), or is
    None to build them from the data, hashing a column with more than
    ``max_categories`` distinct values.
    """

    categories: dict | None = None
    max_categories: int = MAX_CATEGORIES
    handle_unknown: str = "ignore"


def build_categories(reader, names, max_categories):
    """The :class:`Categories` of columns ``names``: one read of those columns only,
    block by block (or at once where the reader holds the whole table)."""
    whole = reader.whole(names)
    parts = [whole] if whole is not None else (reader.read(k, names) for k in range(len(reader.block_sizes)))
    found = None
    for table in parts:
        here = [categories_of(table.column(name), name, max_categories) for name in names]
        found = here if found is None else [merged(a, b, max_categories) for a, b in zip(found, here)]
    return found


def build_frame_categories(frame, names, max_categories):
    """:func:`build_categories` of a pandas DataFrame's columns (one Dask partition)."""
    return [categories_of(pa.array(frame[name], from_pandas=True), name, max_categories) for name in names]


class Layout(NamedTuple):
    """Where the features of numeric columns ``numeric`` and categorical ones
    ``categories`` (a list of :class:`Categories`) sit (see :mod:`fastgd.data.coded`)."""

    numeric: list
    categories: list

    @property
    def offsets(self):
        """The index of each categorical column's first feature."""
        sizes = [c.size for c in self.categories]
        return len(self.numeric) + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    @property
    def n_features(self):
        return len(self.numeric) + sum(c.size for c in self.categories)

    def feature_names(self):
        """A name per feature: the numeric columns', then ``"column=value"``."""
        return list(self.numeric) + [name for c in self.categories for name in c.feature_names()]

    def centrable(self):
        """Which features mini-batch descent centres: the numeric columns and
        the categories of columns with at most
        :data:`~fastgd._config.CENTRED_CATEGORIES` of them. Centring takes the
        intercept out of the direction of a column's categories, which
        otherwise steers mini-batch descent along a valley of the objective."""
        mask = np.zeros(self.n_features, bool)
        mask[: len(self.numeric)] = True
        for offset, found in zip(self.offsets, self.categories):
            if not found.hashed and found.size <= CENTRED_CATEGORIES:
                mask[offset : offset + found.size] = True
        return mask


class CodedRowsSource(HeldTargets, LocalSource):
    """Coded rows held in memory (one Dask partition, coded on its worker)."""

    random_access = True
    sparse = True

    def __init__(self, X, y=None, w=None, raw_y=None):
        self._X = X
        self.n_rows, self.n_features = X.shape
        self.dtype = X.dtype
        self._y = None if y is None else readonly(y)
        self._w = NO_WEIGHTS if w is None else readonly(w)
        self._raw_y = raw_y
        self.has_target = y is not None
        self.weighted = w is not None
        self.block_sizes = np.diff(np.r_[np.arange(0, self.n_rows, self.piece_rows), self.n_rows]).astype(np.int64)

    @property
    def piece_rows(self):
        width = self._X.values.shape[1] * self.dtype.itemsize + self._X.codes.shape[1] * 12
        return piece_rows(max(1, width // 8), 8)

    def blocks(self):
        yield Block(0, self._X, self._y, self._w)  # the kernels cut the rows into runs themselves

    def zero_copy_rows(self):
        return Block(0, self._X, self._y, self._w)

    def _with(self, y, w):
        return CodedRowsSource(self._X, y, w, self._raw_y)


class CodedArrowSource(ArrowSource):
    """Rows of numeric columns ``numeric`` and categorical ones ``categories``
    (a list of :class:`Categories`), features laid out as in
    :mod:`fastgd.data.coded`; ``inputs`` are the feature columns in input order."""

    sparse = True

    def __init__(self, reader, numeric, categories, inputs, dtype, target=None, weight=None, handle_unknown="ignore"):
        super().__init__(reader, list(numeric) + [c.name for c in categories], None, dtype, target, weight)
        self._numeric = list(numeric)
        self._categories = list(categories)
        self._handle_unknown = handle_unknown
        self._layout = Layout(self._numeric, self._categories)
        self._offsets = self._layout.offsets
        self.n_features = self._layout.n_features
        self.feature_names = self._layout.feature_names()
        self.input_names = list(inputs)
        d = len(self._numeric)
        self._hashed = any(c.hashed for c in self._categories)
        # Bytes of one coded row: values, codes and (hashed) signs.
        self._row_bytes = d * self.dtype.itemsize + len(self._categories) * (12 if self._hashed else 4)
        coded_bytes = self.n_rows * self._row_bytes
        self.random_access = coded_bytes <= SMALL_DATA_BYTES or (reader.in_memory and coded_bytes <= CODED_CACHE_BYTES)
        self._kept = []  # the coded rows, once built: shared with the copies of with_target
        self._unknown = {}

    def first_row(self):
        # From the blocks, which reuse the coded rows once built: coding row 0
        # on its own would count its unknown categories twice.
        return LocalSource.first_row(self)

    def centrable(self):
        return self._layout.centrable()

    @property
    def categories(self):
        """The mapping of each categorical column, by name."""
        return {c.name: c for c in self._categories}

    @property
    def piece_rows(self):
        return piece_rows(max(1, self._row_bytes // 8), 8)

    def take_unknown(self):
        """``{column: count}`` of values coded -1 since the last call (and reset)."""
        counts, self._unknown = dict(self._unknown), {}
        return {name: n for name, n in counts.items() if n}

    # -- coding

    def allocate(self, rows):
        _, y, w = super().allocate(0)
        X = CodedX(
            np.empty((rows, len(self._numeric)), self.dtype),
            np.empty((rows, len(self._categories)), np.int32),
            np.empty((rows, len(self._categories))) if self._hashed else NO_SIGNS,
            self.n_features,
        )
        y = None if y is None else np.empty(rows)
        w = None if w is None else np.empty(rows)
        return X, y, w

    def _features_into(self, table, X):
        for j, name in enumerate(self._numeric):
            X.values[:, j] = _numbers(table.column(name), name)
        for k, categories in enumerate(self._categories):
            column = table.column(categories.name)
            if categories.hashed:
                buckets, signs = hashed_codes_of(column, categories.bits)
                X.codes[:, k] = buckets + self._offsets[k]
                X.signs[:, k] = signs
                continue
            codes = codes_of(column, categories)
            unknown = codes < 0
            X.codes[:, k] = np.where(unknown, -1, codes + self._offsets[k])
            if self._hashed:
                X.signs[:, k] = 1.0
            count = int(unknown.sum())
            if count:
                self._unseen(categories.name, count, column, unknown)

    def _unseen(self, name, count, column, unknown):
        if self._handle_unknown == "error":
            value = column.take([int(np.argmax(unknown))]).to_pylist()[0]
            raise ValueError(
                f"categorical column {name!r} has {count} value(s) the model was not fitted with in one "
                f"block, the first {value!r}; use handle_unknown='ignore' to let them add nothing"
            )
        self._unknown[name] = self._unknown.get(name, 0) + count

    def coded_rows(self):
        """All rows, coded once and kept."""
        if not self._kept:
            X, _, _ = self.allocate(self.n_rows)
            for start, table in self._reader.pieces(self._features, self.piece_rows):
                self._features_into(table, X[start : start + table.num_rows])
            self._kept.append(readonly(X))
        return self._kept[0]

    # -- blocks

    def blocks(self):
        if not self.random_access:
            yield from super().blocks()
            return
        X = self.coded_rows()
        extra = self._columns()[len(self._features) :]
        piece = self.piece_rows
        if not extra:
            for start in range(0, self.n_rows, piece):
                yield Block(start, X[start : start + piece], None, _weights(None))
            return
        y_buffer, w_buffer = self._target_buffers(min(piece, self.n_rows))
        for start, table in self._reader.pieces(extra, piece):
            rows = table.num_rows
            y, w = (None if b is None else b[:rows] for b in (y_buffer, w_buffer))
            self._targets_into(table, y, w)
            yield Block(start, X[start : start + rows], _readonly(y), _weights(w))

    def column_blocks(self):
        return None

    def zero_copy_rows(self):
        if not self.random_access:
            return None
        y, w = self._target_buffers(self.n_rows)
        extra = self._columns()[len(self._features) :]
        if extra:
            for start, table in self._reader.pieces(extra, self.piece_rows):
                rows = table.num_rows
                self._targets_into(table, *(None if b is None else b[start : start + rows] for b in (y, w)))
        return Block(0, self.coded_rows(), _readonly(y), _weights(w))
