"""Update rules: small ``init`` / ``update`` pairs with array-only state.

In the manner of optax's ``GradientTransformation``: each rule owns a few rows
of a ``(slots, d + 1)`` float64 state array and updates the parameter vector
in place. The same compiled ``update`` runs once per epoch for full-batch
descent and once per mini-batch inside the compiled epoch loop.

The L1 part of a penalty is applied by its proximal operator (soft
thresholding) after the smooth step, so weights that belong at zero are
exactly ``0.0``. The intercept, the last entry of the parameter vector, is
never thresholded.
"""

import numpy as np
from numba import njit

from .._config import JIT

SGD = 0
#: SGD whose reported solution is the running average of the iterates taken
#: after the first ``hyper[AVERAGE_START]`` steps (Polyak-Ruppert averaging).
ASGD = 1

#: Full batch only: the proximal step of SGD, taken by the solver at Nesterov's
#: extrapolated point (FISTA), with adaptive restart.
ACCELERATED = 2

CODES = {"sgd": SGD, "asgd": ASGD, "accelerated": ACCELERATED}

#: Rows of state each rule needs.
SLOTS = {SGD: 0, ASGD: 1, ACCELERATED: 0}

#: Positions in the ``hyper`` array passed to :func:`update`.
AVERAGE_START = 0
N_HYPER = 1


def init(code, n_params):
    """Fresh state for rule ``code`` over ``n_params`` parameters."""
    return np.zeros((SLOTS[code], n_params))


@njit(**JIT)
def gradient(g, scale, theta, l2, fit_intercept, out):
    """Gradient of the smooth objective from a gradient sum ``g``.

    ``out[:d] = scale * g[:d] + l2 * theta[:d]`` and ``out[d]`` is the
    intercept's share, zero when no intercept is fitted.
    """
    d = theta.shape[0] - 1
    for j in range(d):
        out[j] = scale * g[j] + l2 * theta[j]
    out[d] = scale * g[d] if fit_intercept else 0.0


@njit(**JIT)
def soft_threshold(theta, j, threshold):
    """Proximal operator of ``threshold * |theta[j]|``, in place."""
    v = theta[j]
    if v > threshold:
        theta[j] = v - threshold
    elif v < -threshold:
        theta[j] = v + threshold
    else:
        theta[j] = 0.0


@njit(**JIT)
def update(code, theta, grad, state, t, lr, hyper, l1):
    """Take step number ``t`` (counting from 1) of rule ``code`` in place."""
    d = theta.shape[0] - 1
    for j in range(d + 1):
        theta[j] -= lr * grad[j]
    if l1 > 0.0:
        for j in range(d):
            soft_threshold(theta, j, lr * l1)
    if code == ASGD:
        start = hyper[AVERAGE_START]
        if t > start:
            avg = state[0]
            rate = 1.0 / (t - start)
            for j in range(d + 1):
                avg[j] += rate * (theta[j] - avg[j])


@njit(**JIT)
def averaging(code, t, hyper):
    """Whether rule ``code`` reports the average (``state[0]``) after ``t`` steps."""
    return code == ASGD and t > hyper[AVERAGE_START]


def solution(code, theta, state, t, hyper):
    """A copy of the parameter vector rule ``code`` reports after ``t`` steps."""
    return (state[0] if averaging(code, t, hyper) else theta).copy()
