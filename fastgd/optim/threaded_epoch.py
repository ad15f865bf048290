"""The mini-batch epoch on all threads, with the same bits as on one.

A Numba parallel region per batch measured no faster than one thread
(batches of 256 rows of 100 features), so the threads run the whole epoch
and share each batch's chunks (:func:`~fastgd.optim.epoch.chunk_sums`)
through a few atomic counters (:mod:`fastgd.kernels.atomics`):

- the thread that finishes a batch's last chunk folds the chunks' sums in
  chunk order and takes the step (:func:`~fastgd.optim.epoch.take_step`),
  then *publishes* the next batch: its place, its chunk count and a new
  ``LIMIT`` of chunk tickets, with release ordering;
- every thread claims the next ticket below ``LIMIT`` by compare-and-swap,
  sums that chunk into the chunk's own row, and counts it done.

The sums are those of :func:`~fastgd.optim.epoch.minibatch_epoch`, folded in
the same order, whichever thread took which chunk. No thread waits on a
thread that has no work claimed: a thread that starts late (or not before
the others finish) finds the remaining chunks, or the end, so an epoch
cannot deadlock. A thread
with nothing to claim spins a little, then yields its core at every look: on
a loaded machine the thread it waits for may be the one without a core.

The threads are Python threads, each in one compiled call that releases the
GIL: no threading layer is involved (so nothing changes in forked processes
or under concurrent fits), starting and joining one costs about 180 us an
epoch (hence :data:`~fastgd._config.MINIBATCH_THREAD_WORK`), and a Numba
parallel region around the same call added 12 s to the 8 s it took to
compile, in a cold mini-batch fit on a loaded machine.
"""

import numpy as np
from numba import njit

from .._config import JIT
from .._threads import share
from ..kernels.atomics import (
    compare_exchange,
    fetch_add,
    load_acquire,
    load_relaxed,
    os_yield,
    spin_pause,
    store_relaxed,
    store_release,
)
from ..kernels.fused import kernel_n_out
from ..kernels.prefetch import DISTANCE, prefetch_row
from .epoch import batch_end, chunk_count, chunk_sums, losses_at_average, show_average, take_step

# Slots of the shared ``sync`` array. The three counters sit 64 bytes apart,
# so no two share a cache line.
LIMIT = 0  # tickets issued so far (the end of the current batch's), -1 at the end
TICKET = 8  # the next ticket to claim
DONE = 16  # chunks finished
FIRST = 24  # the current batch's first ticket
START = 25  # its first position
STOP = 26  # its end
UNIT = 27  # the unit it belongs to
STEP = 28  # the step count before it
SYNC_SIZE = 32

#: Looks at the counters a waiting thread spins before it yields its core at
#: every look: a few microseconds, a small part of a batch.
SPINS = 64


@njit(**JIT)
def _publish(rows, model, sync, start, n):
    """Hand out the batch that starts at ``start``, or the end of the epoch."""
    issued = load_relaxed(sync, LIMIT)
    if start >= n:
        store_release(sync, LIMIT, -1)
        return
    unit = load_relaxed(sync, UNIT)
    stop, _ = batch_end(rows, model, start, unit, n)
    store_relaxed(sync, FIRST, issued)
    store_relaxed(sync, START, start)
    store_relaxed(sync, STOP, stop)
    store_release(sync, LIMIT, issued + chunk_count(model, stop - start))


@njit(inline="always", **JIT)
def _warm_next(rows, model, sync, n):
    """Request the first rows of every chunk of the batch after the current one.

    A thread that waits for a step has nothing else to do, and whichever
    chunk it claims next starts on rows in cache: in shuffled order the
    hardware cannot foresee them, and a chunk's own prefetching reaches only
    its later rows. (If the next batch is already out, these are the rows of
    the one after it: a wasted hint, never a wrong result.)
    """
    X, y, sw, idx, _ = rows
    start = load_relaxed(sync, STOP)
    end = min(n, start + model.batch_size)
    for a in range(start, end, model.chunk_rows):
        for q in range(a, min(end, a + DISTANCE)):
            prefetch_row(X, y, sw, idx[q])


@njit(**JIT)
def _work(rows, model, step, theta, raw, slots, lr, average_start, sync, parts, g, grad, shown, totals, n, outputs):
    """One thread's share of the epoch: claim chunks until the end is published."""
    idle = 0
    warmed = -1
    while True:
        limit = load_acquire(sync, LIMIT)
        if limit < 0:
            return
        k = load_relaxed(sync, TICKET)
        if k >= limit:
            if warmed != limit and rows.order.shape[0] > 0:
                warmed = limit
                _warm_next(rows, model, sync, n)
            idle += 1
            if idle < SPINS:
                spin_pause()
            else:
                os_yield()
            continue
        idle = 0
        first = load_relaxed(sync, FIRST)
        start = load_relaxed(sync, START)
        stop = load_relaxed(sync, STOP)
        t = load_relaxed(sync, STEP)
        # Fields read before the claim belong to this batch if the claim
        # succeeds: the next batch is published only after every ticket
        # below ``limit``, this one included, is done.
        if not compare_exchange(sync, TICKET, k, k + 1):
            continue
        c = k - first
        a = start + c * model.chunk_rows
        b = stop if k == limit - 1 else a + model.chunk_rows
        chunk_sums(rows, model, raw, shown, losses_at_average(model, step, t, average_start), a, b, n, outputs,
                   parts[c])
        if fetch_add(sync, DONE, 1) + 1 == limit:
            # The batch's last chunk: its sums are all written (each thread
            # counted its chunk done after writing it).
            t = take_step(
                model, step, theta, raw, slots, parts, limit - first, stop - start, g, grad, shown, t, lr,
                average_start, totals,
            )
            store_relaxed(sync, STEP, t)
            unit = load_relaxed(sync, UNIT)
            if stop == batch_end(rows, model, start, unit, n)[1]:
                store_relaxed(sync, UNIT, unit + 1)
            _publish(rows, model, sync, stop, n)


def threaded_minibatch_epoch(rows, model, step, theta, raw, slots, t, lr, average_start, n_threads):
    """:func:`~fastgd.optim.epoch.minibatch_epoch` on ``n_threads`` threads: the same arguments, returns and bits."""
    n = rows.order.shape[0] if rows.order.shape[0] > 0 else rows.X.shape[0]
    P = theta.shape[0]
    totals = np.zeros(2)
    shown = np.empty(P)
    show_average(model, step, slots, t, average_start, shown)
    sync = np.zeros(SYNC_SIZE, np.int64)
    sync[STEP] = t
    _publish(rows, model, sync, np.int64(0), n)
    parts = np.empty((chunk_count(model, model.batch_size), P + 2))
    args = (rows, model, step, theta, raw, slots, lr, average_start, sync, parts, np.empty(P), np.empty(P), shown,
            totals, n, kernel_n_out(model.n_out))
    share(_work, args, n_threads)
    return float(totals[0]), float(totals[1]), int(sync[STEP])
