"""Block-shuffle plans in compiled code: groups of blocks, and permutations inside them."""

import numpy as np
from numba import njit

from .._config import JIT


@njit(**JIT)
def _uniform(seed, k):
    """A uniform draw in [0, 1) for position ``k`` of stream ``seed`` (splitmix64)."""
    z = np.uint64(seed) + np.uint64(k + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(**JIT)
def shuffle_groups(order, bounds, seed, first):
    """Fisher-Yates shuffle of ``order[bounds[g-1]:bounds[g]]`` for every group, in place.

    Position ``k`` of ``order`` draws from ``(seed, first + k)``: the draws
    depend only on where a row sits in the epoch's order, so a group
    shuffled on its own (``first`` its offset) matches the same group
    shuffled within the whole order.
    """
    start = 0
    for stop in bounds:
        for k in range(stop - 1, start, -1):
            j = start + int(_uniform(seed, first + k) * (k - start + 1))
            order[k], order[j] = order[j], order[k]
        start = stop


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
