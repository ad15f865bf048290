"""Compilation settings and buffer sizes shared by the whole package.

One fastmath flag set for every kernel. ``nnan`` and ``ninf`` are left out on
purpose: with them LLVM may assume no NaN or infinity exists and fold away the
checks that turn bad data into a clear error. Numba wants a ``set``; treat it
as a constant.
"""

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

#: Options for every ``numba.njit`` in fastgd. ``error_model="numpy"`` makes a
#: division by zero produce inf/NaN (caught by the solver) instead of raising
#: inside compiled code.
JIT = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")

#: Rows per parallel work chunk of a full-batch pass. Partial sums are kept per
#: chunk and merged in chunk order, so a pass is bit-identical whatever the
#: number of threads.
CHUNK_ROWS = 1024

#: Target size of one block of rows: the unit in which arrays and in-memory
#: Arrow tables are converted, streamed and block-shuffled.
BLOCK_BYTES = 1 << 22

#: Blocks held by the default block-shuffle buffer.
SHUFFLE_BUFFER_BLOCKS = 4


def block_rows(n_features, itemsize=8):
    """Rows per block: the power of two nearest below ``BLOCK_BYTES`` worth of rows."""
    rows = max(1, BLOCK_BYTES // (max(n_features, 1) * itemsize))
    return 1 << (rows.bit_length() - 1)
