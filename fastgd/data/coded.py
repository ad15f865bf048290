"""Rows of numeric and categorical columns, as the kernels read them.

A block of a source with categorical columns holds a :class:`CodedX` where
other blocks hold a dense array: the numeric columns as a row-major array,
and per categorical column one integer per row, the index of the row's
category among the model's features (or -1 for a category the mapping has
not seen, which adds nothing), with a sign per row for hashed columns.
Nothing of the size ``rows x categories`` exists.

Features are laid out numeric columns first (in the order of the input
columns), then the categories of each categorical column (columns in input
order, categories in their mapping's order): ``coef_`` follows this layout.
"""

import numpy as np

from .._validation import is_sparse
from ..kernels.rowstore import CodedStore, CSRStore

NO_SIGNS = np.ones((0, 0))
NO_SIGNS.flags.writeable = False


class CodedX:
    """Rows of ``values.shape[1]`` numeric and ``codes.shape[1]`` categorical
    columns standing for ``n_features`` features (see the module docstring)."""

    def __init__(self, values, codes, signs, n_features):
        self.values = values
        self.codes = codes
        self.signs = signs
        self.n_features = n_features

    @property
    def shape(self):
        return (self.codes.shape[0], self.n_features)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def nnz(self):
        """Entries (numeric values and codes): the work of a pass."""
        return self.codes.shape[0] * (self.values.shape[1] + self.codes.shape[1])

    def __getitem__(self, rows):
        if not isinstance(rows, slice):
            raise TypeError("CodedX takes a slice of rows")
        signs = self.signs[rows] if self.signs.shape[0] else self.signs
        return CodedX(self.values[rows], self.codes[rows], signs, self.n_features)

    def row_shift(self, i):
        """A shift for the column statistics: row ``i``'s values on the numeric
        columns, present in every row, and 0 on the categories (a shift would
        fill their zeros in)."""
        shift = np.zeros(self.n_features)
        shift[: self.values.shape[1]] = self.values[i]
        return shift

    def readonly(self):
        """The same rows through read-only views."""
        views = []
        for a in (self.values, self.codes, self.signs):
            view = a.view()
            view.flags.writeable = False
            views.append(view)
        return CodedX(*views, self.n_features)


def is_coded(X):
    return isinstance(X, CodedX)


def has_entries(X):
    """Whether the kernels read ``X`` as runs of entries (sparse or coded rows)."""
    return is_sparse(X) or isinstance(X, CodedX)


def store_of(X):
    """The :mod:`~fastgd.kernels.rowstore` storage of sparse or coded rows."""
    if isinstance(X, CodedX):
        return CodedStore(X.values, X.codes, X.signs)
    return CSRStore(X.data, X.indices, X.indptr)
