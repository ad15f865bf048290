"""One compiled call per mini-batch epoch: gradient and step for every batch."""

import numpy as np
from numba import njit

from .._config import JIT
from ..kernels.fused import accumulate_blocked, loss_sum
from .rules import POWER_T, averaging, gradient, update
from .space import gradient_to_standard, to_raw


@njit(**JIT)
def minibatch_epoch(
    X, y, sw, idx, bounds, batch_size, loss, param, n_out, theta, raw, state, t, rule, lr,
    hyper, l2w, l1w, mask, inv_mean_weight, mean, inv_scale, standardized,
):
    """Run consecutive mini-batches over the rows of ``X`` in ``idx`` order.

    ``bounds``, when not empty, lists the positions (in ``idx``, or rows when
    ``idx`` is empty) where a unit ends: batches never span two units.

    ``theta`` (the solver's coordinates) and ``state`` are updated in place;
    ``raw`` holds the same parameters in data units for the kernels (it may
    be ``theta`` itself when ``standardized`` is False). The batch gradient is
    the sum over its rows divided by the batch size and by the mean sample
    weight: an unbiased estimate of the full gradient. With ``hyper[POWER_T]
    > 0`` the rate of step ``t`` is ``lr / t**power_t``.

    Returns
    -------
    loss_total, weight_total : float
        Sums of the batch losses, each taken before the batch's step, at the
        parameters the rule reports: the iterate, or for an averaging rule the
        running average (one more dot product per row, on rows in cache).
    t : int
        The step count after the epoch.
    """
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    P = theta.shape[0]
    g = np.empty(P)
    grad = np.empty(P)
    shown = np.empty(P)
    power_t = hyper[POWER_T]
    loss_total = 0.0
    weight_total = 0.0
    unit = 0
    start = np.int64(0)  # not a literal 0, which would compile a kernel of its own
    while start < n:
        unit_stop = bounds[unit] if bounds.shape[0] > 0 else n
        stop = min(unit_stop, start + batch_size)
        g[:] = 0.0
        batch_loss, batch_weight = accumulate_blocked(
            X, y, sw, raw, loss, param, n_out, idx, start, stop, n, g
        )
        if averaging(rule, t, hyper):
            if standardized:
                to_raw(state[0], mean, inv_scale, n_out, shown)
            else:
                shown[:] = state[0]
            batch_loss = loss_sum(X, y, sw, shown, loss, param, n_out, idx, start, stop)
        loss_total += batch_loss
        weight_total += batch_weight
        if standardized:
            gradient_to_standard(g, mean, inv_scale, n_out)
        gradient(g, inv_mean_weight / (stop - start), mask, grad)
        t += 1
        update(rule, theta, grad, state, t, lr / t**power_t if power_t > 0.0 else lr, hyper, l2w, l1w)
        if standardized:
            to_raw(theta, mean, inv_scale, n_out, raw)
        start = stop
        if start == unit_stop:
            unit += 1
    return loss_total, weight_total, t
