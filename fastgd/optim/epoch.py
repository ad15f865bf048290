"""One compiled call per mini-batch epoch: gradient and step for every batch.

A batch's rows are cut into fixed chunks of ``Model.chunk_rows``; each chunk
sums its gradient into its own row of a buffer and the rows are added in
chunk order. The chunks depend on the shape alone, so
:func:`minibatch_epoch` here and the threaded
:func:`~fastgd.optim.threaded_epoch.threaded_minibatch_epoch` give the same
bits for any number of threads.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import JIT, MINIBATCH_CHUNK_WORK
from ..kernels.fused import accumulate_blocked, kernel_n_out, loss_sum
from .rules import ASGD, gradient, update
from .space import gradient_to_standard, to_raw


class Rows(NamedTuple):
    """The rows one call visits: ``X[order]`` (all rows in order when ``order`` is empty)."""

    X: np.ndarray
    y: np.ndarray
    #: Row weights, or an empty array for unit weights.
    w: np.ndarray
    order: np.ndarray
    #: Positions (in ``order``, or rows) where a unit ends: batches never span
    #: two units. Empty: one unit.
    bounds: np.ndarray


class Model(NamedTuple):
    """The loss and the coordinates the batches are taken in."""

    loss: int
    param: float
    n_out: int
    batch_size: int
    #: ``n / sum(w)``: divides batch sums into unbiased gradient estimates.
    inv_mean_weight: float
    #: Standardized coordinates (see :mod:`fastgd.optim.space`).
    center: np.ndarray
    inv_scale: np.ndarray
    standardized: bool
    #: ``invscaling`` within the epoch: the rate of step ``t`` is ``lr / t**power_t`` (0: off).
    power_t: float
    #: Sparse rows only: plain SGD on one output in data units, with one L2
    #: weight for every feature and no L1, which takes the scaled path of
    #: :mod:`fastgd.optim.sparse_epoch`.
    scaled_l2: bool = False
    #: Rows per chunk of a batch (see :func:`chunk_rows`); 0: one chunk.
    chunk_rows: int = 0
    #: An averaging rule sums its batch losses at the average, as it reports
    #: (one more dot product per row). False where nobody reads them: a pass
    #: after the epoch measures the objective (a fit with ``tol``); the sums
    #: are then taken at the iterate, and the steps are the same.
    losses_at_average: bool = True


def chunk_rows(n_params, batch_size):
    """Rows per chunk of a batch: about :data:`~fastgd._config.MINIBATCH_CHUNK_WORK`
    elements (a power of two of rows, at least 16); 0 when the batch is one chunk."""
    rows = max(16, 1 << max(0, (MINIBATCH_CHUNK_WORK // max(1, n_params)).bit_length() - 1))
    return 0 if rows >= batch_size else rows


@njit(inline="always", **JIT)
def batch_end(rows, model, start, unit, n):
    """Where the batch starting at ``start`` ends: at most ``batch_size`` rows, within its unit."""
    bounds = rows.bounds
    unit_stop = bounds[unit] if bounds.shape[0] > 0 else n
    return min(unit_stop, start + model.batch_size), unit_stop


@njit(inline="always", **JIT)
def chunk_count(model, size):
    """Chunks of a batch of ``size`` rows."""
    c = model.chunk_rows
    return 1 if c == 0 else (size + c - 1) // c


@njit(inline="always", **JIT)
def chunk_sums(rows, model, raw, shown, averaging, start, stop, n, outputs, part):
    """Write the gradient, loss and weight sums of rows ``[start, stop)`` into ``part``.

    ``part`` has ``P + 2`` entries: the gradient sums laid out as ``raw``, the
    loss sum (at ``shown``, the running average, when ``averaging``) and the
    weight sum. ``outputs`` is ``model.n_out``, or None for one output (see
    :func:`~fastgd.kernels.fused.kernel_n_out`).
    """
    X, y, sw, idx, _ = rows
    P = raw.shape[0]
    for j in range(P + 2):
        part[j] = 0.0
    loss, weight = accumulate_blocked(X, y, sw, raw, model.loss, model.param, outputs, idx, start, stop, n, part)
    if averaging:
        loss = loss_sum(X, y, sw, shown, model.loss, model.param, outputs, idx, start, stop)
    part[P] = loss
    part[P + 1] = weight


@njit(inline="always", **JIT)
def take_step(model, step, theta, raw, slots, parts, count, size, g, grad, shown, t, lr, average_start, totals):
    """Fold the first ``count`` rows of ``parts`` in order, step, and return the new step count.

    Adds the batch's loss and weight sums to ``totals``. Leaves in ``shown``
    the running average in data units when the next batch reports at it.
    """
    P = theta.shape[0]
    for j in range(P):
        g[j] = 0.0
    for c in range(count):
        for j in range(P):
            g[j] += parts[c, j]
        totals[0] += parts[c, P]
        totals[1] += parts[c, P + 1]
    if model.standardized:
        gradient_to_standard(g, model.center, model.inv_scale, model.n_out)
    gradient(g, model.inv_mean_weight / size, step.mask, grad)
    t += 1
    rate = lr / t**model.power_t if model.power_t > 0.0 else lr
    update(step, theta, grad, slots, t, rate, average_start)
    if model.standardized:
        to_raw(theta, model.center, model.inv_scale, model.n_out, raw)
    show_average(model, step, slots, t, average_start, shown)
    return t


@njit(inline="always", **JIT)
def losses_at_average(model, step, t, average_start):
    """Whether the batch after step ``t`` sums its losses at the running average: an
    averaging rule past its start, in an epoch whose losses are read."""
    return model.losses_at_average and step.rule == ASGD and t > average_start


@njit(inline="always", **JIT)
def show_average(model, step, slots, t, average_start, shown):
    """Write the running average in data units into ``shown`` when the next batch sums its losses there."""
    if losses_at_average(model, step, t, average_start):
        if model.standardized:
            to_raw(slots[0], model.center, model.inv_scale, model.n_out, shown)
        else:
            # A loop, not ``shown[:] = slots[0]``: Numba compiles that copy's
            # shape-mismatch message too, 3 s of a cold mini-batch fit.
            for j in range(shown.shape[0]):
                shown[j] = slots[0, j]


def minibatch_epoch(rows, model, step, theta, raw, slots, t, lr, average_start):
    """Run consecutive mini-batches over ``rows``; update ``theta``, ``raw`` and ``slots`` in place.

    ``raw`` holds the parameters in data units for the kernels (it may be
    ``theta`` itself when not standardized). The batch gradient is the sum
    over its rows divided by the batch size and by the mean sample weight:
    an unbiased estimate of the full gradient.

    Returns
    -------
    loss_total, weight_total : float
        Sums of the batch losses, each taken before the batch's step, at the
        parameters the rule reports: the iterate, or for an averaging rule the
        running average (one more dot product per row, on rows in cache; at
        the iterate when ``model.losses_at_average`` is False).
    t : int
        The step count after the epoch.
    """
    return batch_loop(rows, model, step, theta, raw, slots, t, lr, average_start, kernel_n_out(model.n_out))


@njit(**JIT)
def batch_loop(rows, model, step, theta, raw, slots, t, lr, average_start, outputs):
    """:func:`minibatch_epoch` in one compiled call."""
    n = rows.order.shape[0] if rows.order.shape[0] > 0 else rows.X.shape[0]
    P = theta.shape[0]
    g = np.empty(P)
    grad = np.empty(P)
    shown = np.empty(P)
    totals = np.zeros(2)
    parts = np.empty((chunk_count(model, model.batch_size), P + 2))
    show_average(model, step, slots, t, average_start, shown)
    unit = 0
    start = np.int64(0)  # not a literal 0, which would compile a kernel of its own
    while start < n:
        stop, unit_stop = batch_end(rows, model, start, unit, n)
        count = chunk_count(model, stop - start)
        for c in range(count):
            a = start + c * model.chunk_rows
            b = stop if c == count - 1 else a + model.chunk_rows
            chunk_sums(rows, model, raw, shown, losses_at_average(model, step, t, average_start), a, b, n, outputs,
                       parts[c])
        t = take_step(
            model, step, theta, raw, slots, parts, count, stop - start, g, grad, shown, t, lr, average_start, totals
        )
        start = stop
        if start == unit_stop:
            unit += 1
    return totals[0], totals[1], t
