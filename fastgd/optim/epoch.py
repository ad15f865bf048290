"""One compiled call per mini-batch epoch: gradient and step for every batch."""

from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import JIT
from ..kernels.fused import accumulate_blocked, loss_sum
from .rules import gradient, update
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


@njit(**JIT)
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
        running average (one more dot product per row, on rows in cache).
    t : int
        The step count after the epoch.
    """
    X, y, sw, idx, bounds = rows
    n_out = model.n_out
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    P = theta.shape[0]
    g = np.empty(P)
    grad = np.empty(P)
    shown = np.empty(P)
    loss_total = 0.0
    weight_total = 0.0
    unit = 0
    start = np.int64(0)  # not a literal 0, which would compile a kernel of its own
    while start < n:
        unit_stop = bounds[unit] if bounds.shape[0] > 0 else n
        stop = min(unit_stop, start + model.batch_size)
        g[:] = 0.0
        batch_loss, batch_weight = accumulate_blocked(
            X, y, sw, raw, model.loss, model.param, n_out, idx, start, stop, n, g
        )
        if t > average_start:
            if model.standardized:
                to_raw(slots[0], model.center, model.inv_scale, n_out, shown)
            else:
                # A loop, not ``shown[:] = slots[0]``: Numba compiles that copy's
                # shape-mismatch message too, 3 s of a cold mini-batch fit.
                for j in range(P):
                    shown[j] = slots[0, j]
            batch_loss = loss_sum(X, y, sw, shown, model.loss, model.param, n_out, idx, start, stop)
        loss_total += batch_loss
        weight_total += batch_weight
        if model.standardized:
            gradient_to_standard(g, model.center, model.inv_scale, n_out)
        gradient(g, model.inv_mean_weight / (stop - start), step.mask, grad)
        t += 1
        rate = lr / t**model.power_t if model.power_t > 0.0 else lr
        update(step, theta, grad, slots, t, rate, average_start)
        if model.standardized:
            to_raw(theta, model.center, model.inv_scale, n_out, raw)
        start = stop
        if start == unit_stop:
            unit += 1
    return loss_total, weight_total, t
