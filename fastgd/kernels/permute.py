"""Permutations inside groups of positions, driven by given uniform draws."""

from numba import njit

from .._config import JIT


@njit(**JIT)
def shuffle_groups(order, bounds, uniforms):
    """Fisher-Yates shuffle of ``order[bounds[g-1]:bounds[g]]`` for every group, in place.

    ``uniforms`` holds one draw in [0, 1) per position, consumed in position
    order, so the same draws give the same permutations however the groups
    are later read.
    """
    start = 0
    for stop in bounds:
        for k in range(stop - 1, start, -1):
            j = start + int(uniforms[k] * (k - start + 1))
            order[k], order[j] = order[j], order[k]
        start = stop


@njit(**JIT)
def concatenate_ranges(blocks, starts, sizes, out):
    """Write the rows of ``blocks`` (``starts[k]`` to ``starts[k] + sizes[k]``) into ``out``."""
    end = 0
    for k in blocks:
        for i in range(sizes[k]):
            out[end + i] = starts[k] + i
        end += sizes[k]
    return end
