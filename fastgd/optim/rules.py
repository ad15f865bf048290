"""Update rules: small ``init`` / ``update`` pairs with array-only state.

In the manner of optax's ``GradientTransformation``: each rule owns a few rows
of a ``(slots, P)`` float64 state array and updates the flat parameter vector
in place. The same compiled :func:`update` runs once per epoch for full-batch
descent and once per mini-batch inside the compiled epoch loop, so adding a
rule means adding its branch and its state size here, nothing else.

Penalties come as per-parameter weights ``l2w`` and ``l1w`` and are applied
by their proximal operator after the gradient step, with the step each
parameter actually took: soft thresholding (so weights that belong at zero are
exactly ``0.0``), then shrinking by ``1 / (1 + step * l2w)``. Kept out of the
gradient, even a penalty made very uneven by standardization never limits the
step size. Intercepts have weight 0.
"""

import math

import numpy as np
from numba import njit

from .._config import JIT

SGD = 0
#: SGD whose reported solution is the running average of the iterates taken
#: after step ``hyper[AVERAGE_START]`` (Polyak-Ruppert averaging).
ASGD = 1
#: Full batch only: the proximal step of SGD, taken by the solver at Nesterov's
#: extrapolated point (FISTA), with adaptive restart.
ACCELERATED = 2
#: Heavy ball: ``v = momentum * v + g``, step ``v``.
MOMENTUM = 3
#: Nesterov momentum in the form PyTorch uses: step ``g + momentum * v``.
NESTEROV = 4
ADAGRAD = 5
#: RMSProp, decaying its squared-gradient average by ``beta2``.
RMSPROP = 6
ADAM = 7
#: Full batch only: limited-memory BFGS with a backtracking line search, run
#: by the solver itself (smooth objectives: no L1).
LBFGS = 8

CODES = {
    "sgd": SGD,
    "asgd": ASGD,
    "accelerated": ACCELERATED,
    "momentum": MOMENTUM,
    "nesterov": NESTEROV,
    "adagrad": ADAGRAD,
    "rmsprop": RMSPROP,
    "adam": ADAM,
    "lbfgs": LBFGS,
}
#: Rows of state each rule needs.
SLOTS = {
    SGD: 0, ASGD: 1, ACCELERATED: 0, MOMENTUM: 1, NESTEROV: 1, ADAGRAD: 1, RMSPROP: 1, ADAM: 2,
    LBFGS: 0,
}
#: Rules that scale each coordinate's step by its gradient history.
ADAPTIVE = {ADAGRAD, RMSPROP, ADAM}
#: The state row that carries momentum, for rules that have one.
VELOCITY = {MOMENTUM: 0, NESTEROV: 0, ADAM: 1}

#: Positions in the ``hyper`` array.
MOMENTUM_RATE, BETA1, BETA2, EPS, AVERAGE_START, POWER_T = range(6)
N_HYPER = 6


def init(code, n_params):
    """Fresh state for rule ``code`` over ``n_params`` parameters."""
    return np.zeros((SLOTS[code], n_params))


def hyperparameters(momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, power_t=0.0):
    """The ``hyper`` array; averaging starts only once :data:`AVERAGE_START` is set."""
    hyper = np.zeros(N_HYPER)
    hyper[[MOMENTUM_RATE, BETA1, BETA2, EPS, AVERAGE_START, POWER_T]] = (
        momentum, beta1, beta2, eps, math.inf, power_t,
    )
    return hyper


@njit(**JIT)
def gradient(g, scale, mask, out):
    """``out = mask * scale * g``: the mean loss's gradient from gradient sums.

    ``mask`` is 0 for parameters that do not train (intercepts without
    ``fit_intercept``, weights of constant columns).
    """
    for j in range(out.shape[0]):
        out[j] = mask[j] * scale * g[j]


@njit(**JIT)
def prox(theta, j, step, l2w, l1w):
    """Proximal operator of ``step * (l1w|t| + l2w t**2 / 2)`` at ``theta[j]``, in place."""
    v = theta[j]
    threshold = step * l1w[j]
    if v > threshold:
        v -= threshold
    elif v < -threshold:
        v += threshold
    else:
        v = 0.0
    theta[j] = v / (1.0 + step * l2w[j])


@njit(**JIT)
def update(code, theta, grad, state, t, lr, hyper, l2w, l1w):
    """Take step number ``t`` (counting from 1) of rule ``code`` in place."""
    P = theta.shape[0]
    if code == MOMENTUM or code == NESTEROV:
        mu = hyper[MOMENTUM_RATE]
        v = state[0]
        for j in range(P):
            v[j] = mu * v[j] + grad[j]
            step = grad[j] + mu * v[j] if code == NESTEROV else v[j]
            theta[j] -= lr * step
            prox(theta, j, lr, l2w, l1w)
    elif code == ADAGRAD or code == RMSPROP or code == ADAM:
        beta1, beta2, eps = hyper[BETA1], hyper[BETA2], hyper[EPS]
        s = state[0]
        for j in range(P):
            g = grad[j]
            if code == ADAGRAD:
                s[j] += g * g
                denominator = math.sqrt(s[j]) + eps
            elif code == RMSPROP:
                s[j] = beta2 * s[j] + (1.0 - beta2) * g * g
                denominator = math.sqrt(s[j]) + eps
            else:
                m = state[1]
                m[j] = beta1 * m[j] + (1.0 - beta1) * g
                s[j] = beta2 * s[j] + (1.0 - beta2) * g * g
                g = m[j] / (1.0 - beta1**t)
                denominator = math.sqrt(s[j] / (1.0 - beta2**t)) + eps
            step = lr / denominator
            theta[j] -= step * g
            prox(theta, j, step, l2w, l1w)
    else:
        for j in range(P):
            theta[j] -= lr * grad[j]
            prox(theta, j, lr, l2w, l1w)
        if code == ASGD and averaging(code, t, hyper):
            avg = state[0]
            rate = 1.0 / (t - hyper[AVERAGE_START])
            for j in range(P):
                avg[j] += rate * (theta[j] - avg[j])


@njit(**JIT)
def averaging(code, t, hyper):
    """Whether rule ``code`` reports the average (``state[0]``) after ``t`` steps."""
    return code == ASGD and t > hyper[AVERAGE_START]


def solution(code, theta, state, t, hyper):
    """A copy of the parameter vector rule ``code`` reports after ``t`` steps."""
    return (state[0] if averaging(code, t, hyper) else theta).copy()
