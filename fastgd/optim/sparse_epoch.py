"""One compiled call per mini-batch epoch over sparse or coded rows, at O(entries) a row.

Rows come as a storage of :mod:`fastgd.kernels.rowstore` (CSR matrices, or
numeric and categorical columns, where a category is one entry).

A batch reads and updates only the features its rows touch (and the dense
intercepts). The steps a feature sits out are the penalty's proximal step
alone, applied lazily in closed form (:mod:`fastgd.optim.lazy`) when the
feature is next touched and for every feature at the end of the call:

- plain and averaged SGD give the eager update of every parameter to
  rounding, L1 and elastic net included (the average of averaged SGD too);
- momentum and adaptive rules (Nesterov, Adagrad, RMSProp, Adam) update the
  state of touched features only, as "lazy" Adam and Adagrad do elsewhere
  (PyTorch's ``SparseAdam``, TensorFlow's ``LazyAdam``): an untouched feature
  keeps its velocity and second moments, does not move by its momentum, and
  its penalty steps use the step size of its last update.

Plain SGD on one output in data units with one L2 weight for all features
(and no L1) takes a faster path with nothing per feature but its weight: the
weights are held as ``scale * u`` (as in scikit-learn's ``WeightVector``), so
the penalty of every feature is one multiplication of ``scale`` a step, and a
batch costs two reads of its nonzeros. ``scale`` is folded back into ``u``
before it can underflow, and at the end of the call.

Standardized coordinates may centre some features (``center != 0``): the
numeric columns of coded rows and the categories of small categorical
columns. A centred feature's gradient has a term in every row, so it is
updated at every step, like the intercept; its centre enters a row's
prediction through one shift per step, ``sum(center * inv_scale * theta)``
over the centred features, so a row still costs only its entries. Centring
every feature of a CSR matrix would make each step dense: the solver
centres none of them (see
:meth:`~fastgd.estimators.base.BaseGD._standardization`).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import JIT
from ..kernels.losses import loss_grad, softmax_loss_grad
from ..kernels.prefetch import _prefetch_1d
from ..kernels.prefetch import DISTANCE
from ..kernels.rowstore import entry, n_rows, prefetch_entries, prefetch_span, span
from .lazy import caught_up
from .rules import ADAGRAD, ADAM, ASGD, RMSPROP, idle_size, step_coordinate


class SparseRows(NamedTuple):
    """The rows of a storage one call visits, in ``order`` (all rows when
    empty); see :class:`~fastgd.optim.epoch.Rows`."""

    store: tuple
    y: np.ndarray
    w: np.ndarray
    order: np.ndarray
    bounds: np.ndarray


@njit(inline="always", **JIT)  # arrays passed to a call cost reference counts, per nonzero
def _bring(theta, avg, step, slots, j, last, k, lr, n_out, stride, average_start, decay):
    """Catch feature ``j`` up over the ``k`` steps after step ``last``, in every output.

    ``decay = [b, log1p(b)]`` remembers the last logarithm: most features of
    an epoch share one ``b``.
    """
    code = step.rule
    adaptive = code == ADAGRAD or code == RMSPROP or code == ADAM
    for c in range(n_out):
        at = c * stride + j
        size = idle_size(code, slots[0][at] if adaptive else 0.0, last, lr, step.beta2, step.eps)
        b = size * step.l2w[at]
        if b != decay[0]:
            decay[0] = b
            decay[1] = math.log1p(b)
        if avg.shape[0] > 0:
            theta[at], avg[at] = caught_up(theta[at], avg[at], last, k, b, decay[1], size * step.l1w[at], average_start)
        else:
            theta[at] = caught_up(theta[at], 0.0, last, k, b, decay[1], size * step.l1w[at], math.inf)[0]


@njit(**JIT)
def _logits(store, i, q, theta, shifts, n_out, stride, p):
    d = stride - 1
    a, b = span(store, i)
    for c in range(n_out):
        base = c * stride
        z = theta[base + d] - shifts[c]
        for e in range(a, b):
            j, x = entry(store, i, e)
            if j >= 0:
                z += x * q[j] * theta[base + j]
        p[c] = z


@njit(**JIT)
def _shifts(centred, center, q, theta, n_out, stride, out):
    """``out[c]``: what the centres of the centred features take from output ``c``'s predictions."""
    for c in range(n_out):
        total = 0.0
        for j in centred:
            total += center[j] * q[j] * theta[c * stride + j]
        out[c] = total


@njit(**JIT)
def _row_loss(loss, param, n_out, p, label, r):
    if n_out == 1:
        value, r[0] = loss_grad(loss, p[0], label, param)
        return value
    return softmax_loss_grad(p, int(label), r)


#: ``scale`` below this is folded into the weights (and so never underflows).
_SMALLEST_SCALE = 1e-9


@njit(**JIT)
def _batches(n, bounds, batch_size):
    """The number of batches (steps) of a call over ``n`` positions."""
    count = 0
    start = 0
    for unit in range(max(bounds.shape[0], 1)):
        stop = bounds[unit] if bounds.shape[0] > 0 else n
        count += (stop - start + batch_size - 1) // batch_size
        start = stop
    return count


@njit(**JIT)
def _prefetch_weights(store, u, i):
    a, b = span(store, i)
    for e in range(a, b):
        j, _ = entry(store, i, e)
        if j >= 0:
            _prefetch_1d(u, j)


@njit(**JIT)
def _prefetch_ahead(store, y, sw, idx, k, n):
    """Shuffled rows are scattered over memory: request, in stages, where row
    ``k + 2 * DISTANCE`` is, the entries and target of row ``k + DISTANCE``, and
    the weights of row ``k + 1`` (whose entries are in cache by then)."""
    if k + 2 * DISTANCE < n:
        prefetch_span(store, idx[k + 2 * DISTANCE])
    if k + DISTANCE < n:
        ahead = idx[k + DISTANCE]
        prefetch_entries(store, ahead)
        _prefetch_1d(y, ahead)
        if sw.shape[0] > 0:
            _prefetch_1d(sw, ahead)


@njit(**JIT)
def _scaled_epoch(rows, model, step, theta, slots, t, lr, average_start):
    """Plain SGD with one L2 weight: ``theta[:d] = scale * u``, in place (see the module docstring)."""
    store, y, sw, idx, bounds = rows
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    n = idx.shape[0] if gather else n_rows(store)
    d = theta.shape[0] - 1
    l2 = step.l2w[0]
    residuals = np.empty(min(model.batch_size, n))
    scale = 1.0
    loss_total = 0.0
    weight_total = 0.0
    unit = 0
    start = np.int64(0)
    while start < n:
        unit_stop = bounds[unit] if bounds.shape[0] > 0 else n
        stop = min(unit_stop, start + model.batch_size)
        gb = 0.0
        for k in range(start, stop):
            i = idx[k] if gather else k
            if gather:
                _prefetch_ahead(store, y, sw, idx, k, n)
            if k + 1 < n:
                # The next row's weights are scattered over memory: request them now.
                _prefetch_weights(store, theta, idx[k + 1] if gather else k + 1)
            z = 0.0
            a, b = span(store, i)
            for e in range(a, b):
                j, x = entry(store, i, e)
                if j >= 0:
                    z += x * theta[j]
            value, r = loss_grad(model.loss, scale * z + theta[d], y[i], model.param)
            s = sw[i] if weighted else 1.0
            loss_total += value * s
            weight_total += s
            residuals[k - start] = r * s
            gb += r * s
        t += 1
        rate = lr / t**model.power_t if model.power_t > 0.0 else lr
        mean = model.inv_mean_weight / (stop - start)
        move = rate * mean / scale
        for k in range(start, stop):
            i = idx[k] if gather else k
            f = move * residuals[k - start]
            a, b = span(store, i)
            for e in range(a, b):
                j, x = entry(store, i, e)
                if j >= 0:
                    theta[j] -= f * x
        step_coordinate(step, theta, step.mask[d] * mean * gb, slots, d, t, rate, average_start)
        scale /= 1.0 + rate * l2
        if scale < _SMALLEST_SCALE:
            for j in range(d):
                theta[j] *= scale
            scale = 1.0
        start = stop
        if start == unit_stop:
            unit += 1
    for j in range(d):
        theta[j] *= scale
    return loss_total, weight_total, t


@njit(**JIT)
def sparse_minibatch_epoch(rows, model, step, theta, slots, t, lr, average_start):
    """:func:`~fastgd.optim.epoch.minibatch_epoch` over sparse or coded rows, with lazy updates.

    Returns ``(loss_total, weight_total, t)`` as the dense kernel does.
    """
    store, y, sw, idx, bounds = rows
    if model.scaled_l2:
        n = idx.shape[0] if idx.shape[0] > 0 else n_rows(store)
        if t + _batches(n, bounds, model.batch_size) <= average_start:  # no averaging in this call
            return _scaled_epoch(rows, model, step, theta, slots, t, lr, average_start)
    n_out = model.n_out
    q = model.inv_scale
    center = model.center
    d = q.shape[0]
    stride = d + 1
    gather = idx.shape[0] > 0
    weighted = sw.shape[0] > 0
    n = idx.shape[0] if gather else n_rows(store)
    avg = slots[0] if step.rule == ASGD else np.empty(0)
    # Every feature is current at step ``last[j]``; ``stamp`` marks those
    # already listed in ``touched`` for batch number ``stamp[j]``.
    last = np.full(d, t, np.int64)
    stamp = np.full(d, -1, np.int64)
    touched = np.empty(d, np.int64)
    centred = np.nonzero(center)[0]
    shifts = np.zeros(n_out)
    average_shifts = np.zeros(n_out)
    g = np.zeros(n_out * stride)
    decay = np.array([0.0, 0.0])
    p = np.empty(n_out)
    r = np.empty(n_out)
    loss_total = 0.0
    weight_total = 0.0
    unit = 0
    batch = 0
    start = np.int64(0)
    while start < n:
        unit_stop = bounds[unit] if bounds.shape[0] > 0 else n
        stop = min(unit_stop, start + model.batch_size)
        count = 0
        for j in centred:
            stamp[j] = batch  # updated every step, never listed
        _shifts(centred, center, q, theta, n_out, stride, shifts)
        shown = avg.shape[0] > 0 and t > average_start and model.losses_at_average
        if shown:
            _shifts(centred, center, q, avg, n_out, stride, average_shifts)
        for k in range(start, stop):
            i = idx[k] if gather else k
            if gather:
                _prefetch_ahead(store, y, sw, idx, k, n)
            a, b = span(store, i)
            for e in range(a, b):
                j, _ = entry(store, i, e)
                if j >= 0 and stamp[j] != batch:
                    stamp[j] = batch
                    touched[count] = j
                    count += 1
                    if last[j] < t:
                        _bring(theta, avg, step, slots, j, last[j], t - last[j], lr, n_out, stride, average_start, decay)
        for k in range(start, stop):
            i = idx[k] if gather else k
            _logits(store, i, q, theta, shifts, n_out, stride, p)
            value = _row_loss(model.loss, model.param, n_out, p, y[i], r)
            s = sw[i] if weighted else 1.0
            a, b = span(store, i)
            for c in range(n_out):
                base = c * stride
                rc = r[c] * s
                for e in range(a, b):
                    j, x = entry(store, i, e)
                    if j >= 0:
                        g[base + j] += rc * x * q[j]
                g[base + d] += rc
            if shown:
                # The loss at the parameters the rule reports: the average.
                _logits(store, i, q, avg, average_shifts, n_out, stride, p)
                value = _row_loss(model.loss, model.param, n_out, p, y[i], r)
            loss_total += value * s
            weight_total += s
        t += 1
        rate = lr / t**model.power_t if model.power_t > 0.0 else lr
        scale = model.inv_mean_weight / (stop - start)
        mask = step.mask
        for e in range(count):
            j = touched[e]
            for c in range(n_out):
                at = c * stride + j
                step_coordinate(step, theta, mask[at] * scale * g[at], slots, at, t, rate, average_start)
                g[at] = 0.0
            last[j] = t
        for j in centred:
            for c in range(n_out):
                at = c * stride + j
                # Each row's term of -center[j] * q[j] * residual, at once.
                g[at] -= center[j] * q[j] * g[c * stride + d]
                step_coordinate(step, theta, mask[at] * scale * g[at], slots, at, t, rate, average_start)
                g[at] = 0.0
            last[j] = t
        for c in range(n_out):
            at = c * stride + d
            step_coordinate(step, theta, mask[at] * scale * g[at], slots, at, t, rate, average_start)
            g[at] = 0.0
        batch += 1
        start = stop
        if start == unit_stop:
            unit += 1
    for j in range(d):
        if last[j] < t:
            _bring(theta, avg, step, slots, j, last[j], t - last[j], lr, n_out, stride, average_start, decay)
    return loss_total, weight_total, t
