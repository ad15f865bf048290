"""Numpy arrays and memory maps as a source."""

import numpy as np

from .._config import block_rows
from .._validation import kernel_dtype, readonly
from .base import NO_WEIGHTS, Block, Source


class ArraySource(Source):
    """A 2-D numpy array (or ``np.memmap``) with its targets and weights.

    C-contiguous float32/float64 input reaches the kernels as it is: the whole
    array is one block, and rows are read at random without a copy. Any other
    dtype or layout is converted piece by piece into a bounded, reused buffer
    (and copied once, whole, only for an exact shuffle).

    Parameters
    ----------
    X : 2-D numeric ndarray, already validated
    y : 1-D float64 array of encoded targets, or None
    w : 1-D float64 array of weights, or None
    raw_y : 1-D array of raw targets for :meth:`with_target` to encode, or None
    feature_names : list of str, optional
    """

    random_access = True

    def __init__(self, X, y=None, w=None, raw_y=None, feature_names=None):
        self._X = X
        self.n_rows, self.n_features = X.shape
        self.dtype = kernel_dtype(X.dtype)
        self._direct = readonly(X) if X.flags.c_contiguous and X.dtype == self.dtype else None
        self._y = None if y is None else readonly(y)
        self._w = NO_WEIGHTS if w is None else readonly(w)
        self._raw_y = raw_y
        self.has_target = y is not None
        self.weighted = w is not None
        self.feature_names = feature_names
        self._block = block_rows(self.n_features, self.dtype.itemsize)
        starts = np.arange(0, self.n_rows, self._block)
        self.block_sizes = np.diff(np.r_[starts, self.n_rows]).astype(np.int64)

    def _targets(self, start, stop):
        y = None if self._y is None else self._y[start:stop]
        return y, self._w[start:stop]

    def blocks(self):
        if self._direct is not None:
            yield Block(0, self._direct, self._y, self._w)
            return
        piece = self.piece_rows
        buffer = np.empty((min(piece, self.n_rows), self.n_features), self.dtype)
        for start in range(0, self.n_rows, piece):
            stop = min(self.n_rows, start + piece)
            X = buffer[: stop - start]
            np.copyto(X, self._X[start:stop], casting="unsafe")
            yield Block(start, readonly(X), *self._targets(start, stop))

    def block(self, k):
        if self._direct is None:
            return super().block(k)
        start = k * self._block
        stop = min(self.n_rows, start + self._block)
        return Block(start, self._direct[start:stop], *self._targets(start, stop))

    def fill(self, k, X, y, w):
        start = k * self._block
        stop = start + X.shape[0]
        np.copyto(X, self._X[start:stop], casting="unsafe")
        if y is not None:
            y[:] = self._y[start:stop]
        if w is not None:
            w[:] = self._w[start:stop]

    def zero_copy_rows(self):
        return None if self._direct is None else Block(0, self._direct, self._y, self._w)

    def rows(self):
        if self._direct is not None:
            return self.zero_copy_rows()
        return Block(0, readonly(np.ascontiguousarray(self._X, dtype=self.dtype)), self._y, self._w)

    def raw_targets(self):
        yield self._raw_y

    def with_target(self, encode, reweight=None):
        y = None if encode is None else np.asarray(encode(self._raw_y), dtype=np.float64)
        w = self._w if self.weighted else None
        if reweight is not None:
            w = reweight(self._raw_y) * (1.0 if w is None else w)
        return ArraySource(self._X, y, w, self._raw_y, self.feature_names)
