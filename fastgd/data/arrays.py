"""Row blocks of in-memory arrays and memory maps."""

import numpy as np

from .._config import block_rows
from .._validation import kernel_dtype, readonly


class ArraySource:
    """A 2-D numpy array (or ``np.memmap``) served as row blocks, never copied whole.

    C-contiguous float32/float64 input goes to the kernels as it is, in one
    block. Any other dtype or layout is converted block by block into a
    bounded buffer that is reused.
    """

    def __init__(self, X):
        self._X = X
        self.n_rows, self.n_features = X.shape
        self.dtype = kernel_dtype(X.dtype)
        direct = X.flags.c_contiguous and X.dtype == self.dtype
        self._direct = readonly(X) if direct else None

    def blocks(self):
        """Yield ``(first_row, block)`` pairs of C-contiguous, read-only blocks.

        A converted block lives in a reused buffer: it is valid until the next
        one is requested.
        """
        if self._direct is not None:
            yield 0, self._direct
            return
        rows = block_rows(self.n_features, self.dtype.itemsize)
        buffer = np.empty((min(rows, self.n_rows), self.n_features), self.dtype)
        for start in range(0, self.n_rows, rows):
            stop = min(self.n_rows, start + rows)
            block = buffer[: stop - start]
            np.copyto(block, self._X[start:stop], casting="unsafe")
            yield start, readonly(block)

    def rows(self):
        """The whole array as one C-contiguous float block, for random row access.

        Copies (once) only when the input is not already in that form.
        """
        if self._direct is not None:
            return self._direct
        return readonly(np.ascontiguousarray(self._X, dtype=self.dtype))
