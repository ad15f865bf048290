"""Numpy arrays and memory maps as a source."""

import mmap
import os
from pathlib import Path

import numpy as np

from .._config import CONVERTED_CACHE_BYTES, block_rows
from .._validation import check_sample_weight, check_target, check_X, kernel_dtype, readonly
from .base import NO_WEIGHTS, Block, HeldTargets, LocalSource
from .dataset import Dataset
from .files import reading


class ArraySource(HeldTargets, LocalSource):
    """A 2-D numpy array (or ``np.memmap``) with its targets and weights.

    C-contiguous float32/float64 input reaches the kernels as it is: the whole
    array is one block, and rows are read at random without a copy. Any other
    dtype or layout is converted piece by piece into a bounded, reused buffer,
    and an exact shuffle gathers its rows into one: nothing is copied whole,
    with one exception. An array held in memory (not a memory map) whose
    converted copy takes at most :data:`~fastgd._config.CONVERTED_CACHE_BYTES`
    is converted once and kept when it would otherwise be converted again:
    when mini-batch descent asks for random access (:meth:`zero_copy_rows`),
    whose shuffled reads in Fortran order (what ``DataFrame.to_numpy()``
    gives) measured 5x the time of C order, and when a second pass begins. A
    one-pass fit (exact least squares) keeps converting piece by piece.

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
        # Contiguous (a column of a matrix is not): the kernels' one
        # specialization per dtype, not another for strided targets.
        self._y = None if y is None else readonly(np.ascontiguousarray(y))
        self._w = NO_WEIGHTS if w is None else readonly(np.ascontiguousarray(w))
        self._raw_y = raw_y
        self.has_target = y is not None
        self.weighted = w is not None
        self.feature_names = feature_names
        self._passes = 0
        self._block = block_rows(self.n_features, self.dtype.itemsize)
        starts = np.arange(0, self.n_rows, self._block)
        self.block_sizes = np.diff(np.r_[starts, self.n_rows]).astype(np.int64)

    def _targets(self, start, stop):
        y = None if self._y is None else self._y[start:stop]
        return y, self._w[start:stop]

    def blocks(self):
        if self._passes:  # a whole pass was made: a second is beginning
            self._convert()
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
        self._passes += 1

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
        self._convert()
        return None if self._direct is None else Block(0, self._direct, self._y, self._w)

    def _convert(self):
        """Convert the whole array once, if it is in memory and the copy small enough."""
        nbytes = self.n_rows * self.n_features * self.dtype.itemsize
        if self._direct is None and nbytes <= CONVERTED_CACHE_BYTES and _in_memory(self._X):
            self._direct = readonly(np.ascontiguousarray(self._X, dtype=self.dtype))

    def gather(self, order, X, y, w):
        # Fancy indexing copies the rows in their own dtype first: a piece,
        # bounded like the buffer.
        np.copyto(X, self._X[order], casting="unsafe")
        if y is not None:
            y[:] = self._y[order]
        if w is not None:
            w[:] = self._w[order]

    def _with(self, y, w):
        X = self._X if self._direct is None else self._direct  # converted at most once
        return ArraySource(X, y, w, self._raw_y, self.feature_names)


def _in_memory(X):
    """Whether ``X`` lives in memory: not a memory map, nor a view of one."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return False
        X = getattr(X, "base", None)
    return True


def open_array(X, target=None, weights=None, description="array"):
    """A Dataset of a 2-D array-like ``X`` with target values (or None) and weights (or None)."""
    X = check_X(X)
    if target is not None:
        target = check_target(target, X.shape[0], name="the target" if description != "array" else "y")
    if weights is not None:
        weights = check_sample_weight(weights, X.shape[0])
    source = ArraySource(X, raw_y=target, w=weights)
    return Dataset(source, description, target=None if target is None else "y")


def open_npy(path, target):
    """A ``.npy`` file of X, memory-mapped, with the target as values or a ``.npy`` path."""
    return open_npy_target(_load_npy(path), target, description=f".npy file {path}")


def open_npy_target(X, target, description="array"):
    """An array ``X`` whose target is given as values or as the path of a ``.npy`` file."""
    if isinstance(target, (str, os.PathLike)):
        target = _load_npy(target)
    return open_array(X, target, description=description)


def _load_npy(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: '{path}'")
    return reading(path, "npy", lambda: np.load(path, mmap_mode="r", allow_pickle=False))
