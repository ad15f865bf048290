"""Compilation settings shared by every Numba kernel.

One fastmath flag set for the whole package. ``nnan`` and ``ninf`` are left
out on purpose: with them LLVM may assume no NaN or infinity exists and fold
away the checks that turn bad data into a clear error.
"""

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

#: Options for every ``numba.njit`` in fastgd. ``error_model="numpy"`` makes a
#: division by zero produce inf/NaN (caught by the solver) instead of raising
#: inside compiled code.
JIT = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")

#: Rows per parallel work chunk of a full-batch pass. Partial sums are kept per
#: chunk and merged in chunk order, so a pass is bit-identical whatever the
#: number of threads.
CHUNK_ROWS = 8192

#: Size of the buffer used when an input must be converted (another dtype or
#: memory layout) block by block.
BLOCK_BYTES = 1 << 24


def block_rows(n_features, itemsize=8):
    """Rows per conversion block for ``n_features`` columns."""
    return max(1, BLOCK_BYTES // (max(n_features, 1) * itemsize))
