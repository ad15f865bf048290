"""Waiting on a counter without the GIL, for :func:`fastgd._threads.share`.

A thread blocked on a lock or a condition wakes in 50-100 us on this VM, a
core that spins on a counter in microseconds: the helpers of fastgd's own
threads watch for work here for a while after each call, as a threading
layer's workers do, and the caller watches here for them to finish.
"""

from numba import njit

from .._config import JIT
from .atomics import load_acquire, os_yield, spin_pause

#: Looks spent in ``pause`` before each further look yields the core.
PAUSES = 64


@njit(**JIT)
def wait_until(flags, slot, value, reach, looks):
    """Watch ``flags[slot]`` until it reaches ``value`` (``reach``) or differs
    from it (not ``reach``), at most ``looks`` times (-1: no limit).

    Returns whether it did.
    """
    k = 0
    while looks < 0 or k < looks:
        current = load_acquire(flags, slot)
        if (current >= value) if reach else (current != value):
            return True
        if k < PAUSES:
            spin_pause()
        else:
            os_yield()
        k += 1
    return False
