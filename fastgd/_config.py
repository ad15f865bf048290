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

#: Options for a small function that compiled loops call at several places (a
#: row's loss and derivative): Numba compiles it once and LLVM inlines it into
#: every caller (``forceinline``; left to LLVM's own judgement it stayed a
#: call, and passes took 1.3-1.5x as long). Numba's own
#: ``inline="always"`` runs its front end again, deep-copies the function's IR
#: and types and lowers the copy at every call site: the row loss inlined at
#: seven sites cost a cold mini-batch fit 2-3 s of its 11-13 s.
LEAF = dict(JIT, forceinline=True)

#: Rows per parallel work chunk of a full-batch pass. Partial sums are kept per
#: chunk and merged in chunk order, so a pass is bit-identical whatever the
#: number of threads.
CHUNK_ROWS = 1024

#: Elements (rows x parameters) per chunk of a mini-batch: the unit in which
#: threads share a batch, summed and merged in chunk order like a pass's
#: chunks. Fixed by the shape, never by the number of threads.
MINIBATCH_CHUNK_WORK = 4096

#: Elements (rows x parameters) of a mini-batch epoch below which it runs on
#: one thread. Threads hand every batch over (the step, the parameters, the
#: chunks' sums) and start at 180 us an epoch: with two threads, measured
#: epochs of 2M elements took 1.09x and 0.97x the one-thread time, of 8M-10M
#: 0.83x (40 features) and 0.67x (100).
MINIBATCH_THREAD_WORK = 1 << 22

#: Multiply-adds (rows x (features + 2)**2) of a dense Gram pass below which it
#: runs on one thread. Two threads against one (fastgd's waiting helpers,
#: :func:`fastgd._threads.share`) measured 1.01-1.10x at 1M-2M (20
#: features), 0.85x at 4M, 0.73-0.75x at 8M-17M and 0.64x at 67M; with 100
#: features, passes below 17M are one run, and 0.67x at 67M.
GRAM_THREAD_WORK = 1 << 23

#: Elements of a column-statistics pass below which it runs on one thread:
#: two threads against one (fastgd's waiting helpers) measured 0.94-1.24x at
#: 0.26M elements, 0.64-0.96x at 0.5M and 0.52-0.81x from 1M to 17M.
STATS_THREAD_WORK = 1 << 20

#: Elements (rows x parameters) of a dense full-batch pass from which threads
#: share it (see :func:`fastgd._threads.share`): two threads against one
#: measured 0.82-1.23x at 0.13M elements, 0.67-0.90x at 0.26M, 0.55-0.63x
#: from 1M to 17M (20 and 100 features); Numba's TBB layer, which ran these
#: passes before, 0.59-1.03x at 0.13M and 0.55-0.78x from 1M.
PASS_THREAD_WORK = 1 << 18

#: Chunks whose partial sums one parallel wave of a full pass holds at most,
#: and the bytes their buffer may take (the pass then takes fewer chunks per
#: wave, but at least ``MIN_WAVE_CHUNKS``). Waves keep the buffer independent
#: of the number of rows; the sums are folded in chunk order either way.
WAVE_CHUNKS = 64
WAVE_BYTES = 1 << 22
MIN_WAVE_CHUNKS = 16

#: Target size of a *piece*: the unit in which data is converted (another
#: dtype or layout, Arrow columns) and handed to full-batch passes. Large
#: enough that a parallel call is worth its start-up.
PIECE_BYTES = 1 << 22

#: Target size of a piece read in place (Arrow columns or tensors of the kernel
#: dtype): no buffer to bound, so only the per-piece overhead matters.
ZERO_COPY_PIECE_BYTES = 1 << 26

#: Target size of a *block*: the natural unit of arrays and in-memory tables,
#: which the block shuffle visits in random order.
BLOCK_BYTES = 1 << 18

#: Pieces (:data:`PIECE_BYTES` each, 8-16 MiB in all) of rows held by the
#: default block-shuffle buffer: 64 blocks of an array or table mixed in
#: every group. A buffer of four blocks (1 MiB, in L2) made the two-thread B=256
#: epoch on 1M x 100 float64 only 6% faster (1.82x a sequential read against
#: 1.94x: each row still comes from memory once), and batches of sorted data
#: would draw from four stretches of it.
SHUFFLE_BUFFER_PIECES = 4

#: Partial sums merged per task of a Dask tree reduction (unless dask's
#: ``split_every`` setting says otherwise).
REDUCE_FAN_IN = 8


def _rows(nbytes, n_features, itemsize):
    """The power of two nearest below ``nbytes`` worth of rows."""
    rows = max(1, nbytes // (max(n_features, 1) * itemsize))
    return 1 << (rows.bit_length() - 1)


def block_rows(n_features, itemsize=8):
    """Rows per natural block of an array or in-memory table."""
    return _rows(BLOCK_BYTES, n_features, itemsize)


def piece_rows(n_features, itemsize=8, zero_copy=False):
    """Rows per piece: conversion pieces, or larger ones read in place."""
    return _rows(ZERO_COPY_PIECE_BYTES if zero_copy else PIECE_BYTES, n_features, itemsize)

#: Sparse passes: rows are cut into at most SPARSE_MAX_GROUPS runs of at
#: least SPARSE_GROUP_ROWS rows, each summing into a dense row of parameters,
#: and into fewer runs when those rows would take more than
#: SPARSE_BUFFER_BYTES (millions of features). Never dependent on threads.
SPARSE_MAX_GROUPS = 64
SPARSE_GROUP_ROWS = 2048
SPARSE_BUFFER_BYTES = 1 << 25

#: Tabular data whose features take at most this much as the kernel's dtype
#: are decoded or converted once and kept for the whole fit (Parquet, CSV
#: with many chunks): bounded, and far less than re-reading them every epoch.
SMALL_DATA_BYTES = 1 << 24

#: Coded rows (numeric values and category codes) of in-memory tables up to
#: this size are built once and kept for the whole fit: about the size of the
#: numeric columns, never of a one-hot matrix.
CODED_CACHE_BYTES = 1 << 28

#: In-memory arrays of another layout or dtype are converted once for
#: mini-batch descent when the converted copy takes at most this much (see
#: :class:`~fastgd.data.arrays.ArraySource`); larger ones, and memory maps,
#: are converted piece by piece every epoch.
CONVERTED_CACHE_BYTES = 1 << 28

#: Categorical columns with at most this many categories are centred in
#: mini-batch descent: every step then updates each of their categories.
CENTRED_CATEGORIES = 256
