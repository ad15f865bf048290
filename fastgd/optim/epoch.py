"""One compiled call per mini-batch epoch: gradient and step for every batch."""

import numpy as np
from numba import njit

from .._config import JIT
from ..kernels.fused import accumulate, loss_sum
from .rules import averaging, gradient, update


@njit(**JIT)
def minibatch_epoch(
    X, y, sw, idx, batch_size, loss, theta, state, t, rule, lr, hyper, l2, l1,
    fit_intercept, inv_mean_weight,
):
    """Run consecutive mini-batches over the rows of ``X`` in ``idx`` order.

    The batch gradient is the sum over its rows divided by the batch size and
    by the mean sample weight, an unbiased estimate of the full gradient.
    ``theta`` and ``state`` are updated in place.

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
    d = X.shape[1]
    g = np.empty(d + 1)
    grad = np.empty(d + 1)
    loss_total = 0.0
    weight_total = 0.0
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        g[:] = 0.0
        batch_loss, batch_weight = accumulate(X, y, sw, theta, loss, idx, start, stop, g)
        if averaging(rule, t, hyper):
            batch_loss = loss_sum(X, y, sw, state[0], loss, idx, start, stop)
        loss_total += batch_loss
        weight_total += batch_weight
        gradient(g, inv_mean_weight / (stop - start), theta, l2, fit_intercept, grad)
        t += 1
        update(rule, theta, grad, state, t, lr, hyper, l1)
    return loss_total, weight_total, t
