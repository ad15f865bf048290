"""The stochastic (B=1) epoch of plain and averaged SGD on dense rows, one output.

Per row: one dot product (two with averaging when its losses are reported,
at the average, in the same read of the row), one loss derivative, and one fused
update of every parameter, with its proximal step (and the running average).
The general mini-batch epoch (:mod:`fastgd.optim.epoch`) takes six loops
over the parameters a step, in data units and back; stochastic descent is
where that shows: over 1,000,000 x 100 rows in shuffled order, 660-980 ns a
row there against 250-330 here (81 ns with the rows in cache).

The steps are the general epoch's to rounding: the row is standardized once
(``z = (x - center) * inv_scale``) and the step is taken on ``theta`` in
those coordinates, where the general epoch maps data-unit gradient sums;
with a constant rate the L2 proximal step multiplies by ``1 / (1 + rate *
l2w)``, computed once per epoch, where the general one divides every step.
"""

import numpy as np
from numba import njit

from .._config import JIT
from ..kernels.losses import loss_grad
from ..kernels.prefetch import DISTANCE, prefetch_row
from .rules import ASGD, SGD
from .space import to_raw


def takes(model, step):
    """Whether :func:`stochastic_epoch` runs these steps (of dense rows): B=1, one output, SGD or ASGD.

    Chosen in Python, not inside the general epoch, so that a mini-batch
    fit does not compile this kernel too.
    """
    return model.batch_size == 1 and model.n_out == 1 and step.rule in (SGD, ASGD)


@njit(**JIT)
def _shrink(l2w, rate, out):
    for j in range(out.shape[0]):
        out[j] = 1.0 / (1.0 + rate * l2w[j])


@njit(**JIT)
def _dot(theta, z):
    p = theta[z.shape[0]]
    for j in range(z.shape[0]):
        p += theta[j] * z[j]
    return p


@njit(**JIT)
def _soft(v, threshold):
    if v > threshold:
        return v - threshold
    if v < -threshold:
        return v + threshold
    return 0.0


@njit(**JIT)
def stochastic_epoch(rows, model, step, theta, raw, slots, t, lr, average_start):
    """:func:`~fastgd.optim.epoch.minibatch_epoch` for the steps :func:`takes` accepts (same arguments, same returns)."""
    X, y, sw, idx, _ = rows
    n = idx.shape[0] if idx.shape[0] > 0 else X.shape[0]
    d = X.shape[1]
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    averaging = step.rule == ASGD
    avg = slots[0] if averaging else theta
    l1w, mask = step.l1w, step.mask
    lasso = False
    for j in range(d + 1):
        lasso = lasso or l1w[j] != 0.0
    constant = model.power_t == 0.0
    shrink = np.empty(d + 1)
    _shrink(step.l2w, lr, shrink)
    z = np.empty(d)
    loss_total = weight_total = 0.0
    for k in range(n):
        if gather and k + DISTANCE < n:  # rows in stored order need no hint
            prefetch_row(X, y, sw, idx[k + DISTANCE])
        i = idx[k] if gather else k
        x = X[i]
        if model.standardized:
            for j in range(d):
                z[j] = (x[j] - model.center[j]) * model.inv_scale[j]
        else:
            for j in range(d):
                z[j] = x[j]
        value, r = loss_grad(model.loss, _dot(theta, z), y[i], model.param)
        if averaging and t > average_start and model.losses_at_average:  # the loss the rule reports
            value = loss_grad(model.loss, _dot(avg, z), y[i], model.param)[0]
        s = sw[i] if weighted else 1.0
        loss_total += value * s
        weight_total += s
        t += 1
        rate = lr
        if not constant:
            rate = lr / t**model.power_t
            _shrink(step.l2w, rate, shrink)
        c = rate * model.inv_mean_weight * r * s
        if lasso:
            for j in range(d + 1):
                theta[j] = _soft(theta[j] - c * mask[j] * (z[j] if j < d else 1.0), rate * l1w[j]) * shrink[j]
        else:
            for j in range(d):
                theta[j] = (theta[j] - c * mask[j] * z[j]) * shrink[j]
            theta[d] = (theta[d] - c * mask[d]) * shrink[d]
        if averaging and t > average_start:
            weight = 1.0 / (t - average_start)
            for j in range(d + 1):
                avg[j] += (theta[j] - avg[j]) * weight
    if model.standardized:
        to_raw(theta, model.center, model.inv_scale, 1, raw)
    return loss_total, weight_total, t
