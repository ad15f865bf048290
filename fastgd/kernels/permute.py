"""Shuffle plans in compiled code: permutations of all rows, groups of blocks
and permutations inside them.

Written here rather than taken from numpy: ``Generator.permutation`` swaps
entries all over its array, and for a million rows (an 8 MB array, evicted
by the epoch's own reads) it took 14-46 ms over runs, up to a fifth of a
two-thread B=256 epoch over 1M x 100 float64. :func:`permutation` keeps
every swap inside a bucket that fits in cache (9-12 ms).
"""

import numpy as np
from numba import njit

from .._config import JIT

#: Rows per bucket of :func:`permutation` (on average): 32 KB of int64
#: positions, which a Fisher-Yates shuffle then visits in L1 cache.
BUCKET_ROWS = 4096


@njit(inline="always", **JIT)
def _bits(seed, k):
    """64 random bits for position ``k`` of stream ``seed`` (splitmix64)."""
    z = np.uint64(seed) + np.uint64(k + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(inline="always", **JIT)
def _uniform(seed, k):
    """A uniform draw in [0, 1) for position ``k`` of stream ``seed``."""
    return float(_bits(seed, k) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def bucket_bits(n):
    """log2 of the buckets :func:`permutation` scatters ``n`` rows into: a
    power of two, about :data:`BUCKET_ROWS` rows each."""
    return max(0, (max(1, n) - 1) // BUCKET_ROWS).bit_length()


@njit(inline="always", **JIT)
def _bucket(seed, i, shift, bits):
    """The bucket of position ``i``: the top ``bits`` of its draw (a shift by 64 is undefined)."""
    return np.int64(_bits(seed, i) >> shift) if bits > 0 else np.int64(0)


@njit(**JIT)
def permutation(seed, within, out, bits):
    """Write a uniformly random permutation of ``range(len(out))`` into ``out``.

    Every position goes to one of ``2**bits`` buckets, drawn uniformly and
    independently from stream ``seed`` (a counting sort keeps the buckets in
    order), then each bucket is shuffled (:func:`shuffle_groups`, stream
    ``within``). The same as sorting by independent uniform keys, of which
    the bucket is the top bits: every permutation is equally likely. All
    swaps stay within a bucket.
    """
    n = out.shape[0]
    buckets = 1 << bits
    shift = np.uint64(64 - bits)
    ends = np.zeros(buckets, np.int64)
    for i in range(n):
        ends[_bucket(seed, i, shift, bits)] += 1
    start = 0
    for b in range(buckets):  # ends[b] becomes the next free place of bucket b
        count = ends[b]
        ends[b] = start
        start += count
    for i in range(n):
        b = _bucket(seed, i, shift, bits)
        out[ends[b]] = i
        ends[b] += 1
    _shuffle_groups(out, ends, within, 0)  # inlined: an exact shuffle compiles no second kernel


@njit(inline="always", **JIT)
def _shuffle_groups(order, bounds, seed, first):
    start = 0
    for stop in bounds:
        for k in range(stop - 1, start, -1):
            j = start + int(_uniform(seed, first + k) * (k - start + 1))
            order[k], order[j] = order[j], order[k]
        start = stop


@njit(**JIT)
def shuffle_groups(order, bounds, seed, first):
    """Fisher-Yates shuffle of ``order[bounds[g-1]:bounds[g]]`` for every group, in place.

    Position ``k`` of ``order`` draws from ``(seed, first + k)``: the draws
    depend only on where a row sits in the epoch's order, so a group
    shuffled on its own (``first`` its offset) matches the same group
    shuffled within the whole order.
    """
    _shuffle_groups(order, bounds, seed, first)


@njit(**JIT)
def group_blocks(blocks, sizes, capacity):
    """End positions (in ``blocks``) of the groups: consecutive blocks that fit
    ``capacity`` rows, at least one block each."""
    ends = np.empty(blocks.shape[0], np.int64)
    n_groups = 0
    held = 0
    for i in range(blocks.shape[0]):
        size = sizes[blocks[i]]
        if held > 0 and held + size > capacity:
            ends[n_groups] = i
            n_groups += 1
            held = 0
        held += size
    ends[n_groups] = blocks.shape[0]
    return ends[: n_groups + 1]


@njit(**JIT)
def concatenate_ranges(blocks, starts, sizes, out):
    """Write the rows of ``blocks`` (``starts[k]`` to ``starts[k] + sizes[k]``) into ``out``."""
    end = 0
    for k in blocks:
        for i in range(sizes[k]):
            out[end + i] = starts[k] + i
        end += sizes[k]
    return end
