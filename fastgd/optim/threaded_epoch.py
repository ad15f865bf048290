"""The mini-batch epoch on all threads, with the same bits as on one.

A parallel region per batch costs about as much as a batch of 256 rows of
100 features, so the threads enter one region for the whole epoch and share
each batch's chunks (:func:`~fastgd.optim.epoch.chunk_sums`) through a few
atomic counters (:mod:`fastgd.kernels.atomics`):

- the thread that finishes a batch's last chunk folds the chunks' sums in
  chunk order and takes the step (:func:`~fastgd.optim.epoch.take_step`),
  then *publishes* the next batch: its place, its chunk count and a new
  ``LIMIT`` of chunk tickets, with release ordering;
- every thread claims the next ticket below ``LIMIT`` by compare-and-swap,
  sums that chunk into the chunk's own row, and counts it done.

The sums are those of :func:`~fastgd.optim.epoch.minibatch_epoch`, folded in
the same order, whichever thread took which chunk. No thread waits on a
thread that has no work claimed: a thread that starts late (or never, when
the threading layer runs the region's iterations one after another) finds
the remaining chunks, or the end, so the region cannot deadlock.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT
from ..kernels.atomics import (
    compare_exchange,
    fetch_add,
    load_acquire,
    load_relaxed,
    spin_pause,
    store_relaxed,
    store_release,
)
from .epoch import batch_end, chunk_count, chunk_sums, show_average, take_step

# Slots of the shared ``sync`` array. The three counters sit 64 bytes apart,
# on cache lines of their own.
LIMIT = 0  # tickets issued so far (the end of the current batch's), -1 at the end
TICKET = 8  # the next ticket to claim
DONE = 16  # chunks finished
FIRST = 24  # the current batch's first ticket
START = 25  # its first position
STOP = 26  # its end
UNIT = 27  # the unit it belongs to
STEP = 28  # the step count before it
SYNC_SIZE = 32


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


@njit(**JIT)
def _work(rows, model, step, theta, raw, slots, lr, average_start, sync, parts, g, grad, shown, totals, n):
    """One thread's share of the epoch: claim chunks until the end is published."""
    while True:
        limit = load_acquire(sync, LIMIT)
        if limit < 0:
            return
        k = load_relaxed(sync, TICKET)
        if k >= limit:
            spin_pause()
            continue
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
        chunk_sums(rows, model, raw, shown, t > average_start, a, b, n, parts[c])
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


@njit(parallel=True, **JIT)
def _region(rows, model, step, theta, raw, slots, lr, average_start, sync, parts, g, grad, shown, totals, n, n_threads):
    # The parallel region alone, taking its arrays as arguments: with them
    # allocated in the same function (Numba 0.68), reads after the region
    # returned the zeros the arrays started as, not what ``_work`` wrote.
    for _ in prange(n_threads):
        _work(rows, model, step, theta, raw, slots, lr, average_start, sync, parts, g, grad, shown, totals, n)


@njit(**JIT)
def threaded_minibatch_epoch(rows, model, step, theta, raw, slots, t, lr, average_start, n_threads):
    """:func:`~fastgd.optim.epoch.minibatch_epoch` on ``n_threads`` threads: the same arguments, returns and bits."""
    n = rows.order.shape[0] if rows.order.shape[0] > 0 else rows.X.shape[0]
    P = theta.shape[0]
    g = np.empty(P)
    grad = np.empty(P)
    shown = np.empty(P)
    totals = np.zeros(2)
    parts = np.empty((chunk_count(model, model.batch_size), P + 2))
    show_average(model, slots, t, average_start, shown)
    sync = np.zeros(SYNC_SIZE, np.int64)
    sync[STEP] = t
    _publish(rows, model, sync, np.int64(0), n)
    _region(rows, model, step, theta, raw, slots, lr, average_start, sync, parts, g, grad, shown, totals, n, n_threads)
    return totals[0], totals[1], sync[STEP]
