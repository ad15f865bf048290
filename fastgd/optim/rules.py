"""Update rules: each declares its state, creates it with ``init`` and steps in compiled code.

In the manner of optax's ``GradientTransformation``: a :class:`Rule` says
what state it needs (rows of per-parameter slots, whether it has a velocity,
whether it averages its iterates) and :meth:`Rule.init` creates a
:class:`RuleState` that belongs to that rule alone. A fit that continues
checks the state against the rule it is given (:meth:`RuleState.belongs_to`)
and starts a fresh state for another rule; memory is never reinterpreted.

The same compiled :func:`step_coordinate` takes every step: over all
parameters (:func:`update`) once per epoch in full batch and once per
mini-batch on dense rows, and over the touched features on sparse rows
(:mod:`fastgd.optim.sparse_epoch`). Adding a rule means adding its branch
there, its lazy step size in :func:`idle_size` and its entry in
:data:`RULES`.

Penalties come as per-parameter weights ``l2w`` and ``l1w`` and are applied
by their proximal operator after the gradient step, with the step each
parameter actually took: soft thresholding (so weights that belong at zero are
exactly ``0.0``), then shrinking by ``1 / (1 + step * l2w)``. Kept out of the
gradient, even a penalty made very uneven by standardization never limits the
step size. Intercepts have weight 0.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import JIT

SGD = 0
#: SGD whose reported solution is the running average of the iterates taken
#: after step ``average_start`` (Polyak-Ruppert averaging).
ASGD = 1
#: Heavy ball: ``v = momentum * v + g``, step ``v``.
MOMENTUM = 3
#: Nesterov momentum in the form PyTorch uses: step ``g + momentum * v``.
NESTEROV = 4
ADAGRAD = 5
#: RMSProp, decaying its squared-gradient average by ``beta2``.
RMSPROP = 6
ADAM = 7


@dataclass(frozen=True)
class Rule:
    """An update rule and the state it declares."""

    name: str
    code: int
    #: Rows of per-parameter state.
    slots: int = 0
    #: Steps scaled per coordinate by the gradient history.
    adaptive: bool = False
    #: The state row that carries momentum, or None.
    velocity: int | None = None
    #: Steps add up past gradients (heavy ball, Nesterov): about
    #: ``1 / (1 - momentum)`` of them, which the automatic rate allows for.
    momentum: bool = False
    #: Reports the running average of its iterates (state row 0).
    averaging: bool = False
    #: Every step is a plain (proximal) gradient step: sure to lower a smooth
    #: objective at a small enough rate.
    monotone: bool = False

    def init(self, n_params):
        """Fresh state for ``n_params`` parameters."""
        return RuleState(self.name, np.zeros((self.slots, n_params)))


@dataclass
class RuleState:
    """The state of one rule: slots, step count and, for averaging, where averaging starts."""

    rule: str
    slots: np.ndarray
    #: Steps taken (the bias corrections and ``invscaling`` count from here).
    t: int = 0
    #: Averaging rules: iterates after this step are averaged (inf: not yet).
    average_start: float = math.inf

    def belongs_to(self, rule, n_params):
        """Whether this state can continue under ``rule`` with ``n_params`` parameters."""
        return self.rule == rule.name and self.slots.shape == (rule.slots, n_params)

    def copy(self):
        return RuleState(self.rule, self.slots.copy(), self.t, self.average_start)

    def averaged(self):
        """Whether the reported solution is the average (row 0) rather than the iterate."""
        return self.t > self.average_start

    def solution(self, theta):
        """A copy of the parameters this state reports for iterate ``theta``."""
        return (self.slots[0] if self.averaged() else theta).copy()

    def restart_average(self):
        """Averaging restarts: the next reported solution is the iterate again."""
        if self.average_start < math.inf:
            self.average_start = float(self.t)


RULES = {
    rule.name: rule
    for rule in (
        Rule("sgd", SGD, monotone=True),
        Rule("asgd", ASGD, slots=1, averaging=True, monotone=True),
        Rule("momentum", MOMENTUM, slots=1, velocity=0, momentum=True),
        Rule("nesterov", NESTEROV, slots=1, velocity=0, momentum=True),
        Rule("adagrad", ADAGRAD, slots=1, adaptive=True),
        Rule("rmsprop", RMSPROP, slots=1, adaptive=True),
        Rule("adam", ADAM, slots=2, adaptive=True, velocity=1),
    )
}


class Step(NamedTuple):
    """What a step needs besides the parameters, the gradient, the state and the rate."""

    rule: int
    momentum: float
    beta1: float
    beta2: float
    eps: float
    #: Per-parameter penalty weights and trainable mask (0 for intercepts
    #: without ``fit_intercept`` and weights of constant columns).
    l2w: np.ndarray
    l1w: np.ndarray
    mask: np.ndarray


@njit(inline="always", **JIT)
def gradient(g, scale, mask, out):
    """``out = mask * scale * g``: the mean loss's gradient from gradient sums."""
    for j in range(out.shape[0]):
        out[j] = mask[j] * scale * g[j]


@njit(inline="always", **JIT)
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


@njit(inline="always", **JIT)
def _momentum(step, theta, g, v, j, lr, nesterov):
    v[j] = step.momentum * v[j] + g
    theta[j] -= lr * (g + step.momentum * v[j] if nesterov else v[j])
    return lr


@njit(inline="always", **JIT)
def _adaptive(step, theta, g, slots, j, t, lr, code):
    s = slots[0]
    if code == ADAGRAD:
        s[j] += g * g
        denominator = math.sqrt(s[j]) + step.eps
    elif code == RMSPROP:
        s[j] = step.beta2 * s[j] + (1.0 - step.beta2) * g * g
        denominator = math.sqrt(s[j]) + step.eps
    else:
        m = slots[1]
        m[j] = step.beta1 * m[j] + (1.0 - step.beta1) * g
        s[j] = step.beta2 * s[j] + (1.0 - step.beta2) * g * g
        g = m[j] / (1.0 - step.beta1**t)
        denominator = math.sqrt(s[j] / (1.0 - step.beta2**t)) + step.eps
    size = lr / denominator
    theta[j] -= size * g
    return size


@njit(inline="always", **JIT)
def _average(avg, theta, j, t, average_start):
    avg[j] += (theta[j] - avg[j]) / (t - average_start)


@njit(inline="always", **JIT)  # called per touched nonzero: no reference counts per call
def step_coordinate(step, theta, g, slots, j, t, lr, average_start):
    """Take step number ``t`` of ``step.rule`` on parameter ``j`` with gradient ``g``, in place.

    Returns the step size the parameter took (its proximal step).
    """
    code = step.rule
    if code == MOMENTUM or code == NESTEROV:
        size = _momentum(step, theta, g, slots[0], j, lr, code == NESTEROV)
    elif code == ADAGRAD or code == RMSPROP or code == ADAM:
        size = _adaptive(step, theta, g, slots, j, t, lr, code)
    else:
        theta[j] -= lr * g
        size = lr
    prox(theta, j, size, step.l2w, step.l1w)
    if code == ASGD and t > average_start:
        _average(slots[0], theta, j, t, average_start)
    return size


@njit(**JIT)
def idle_size(code, second_moment, t, lr, beta2, eps):
    """The proximal step size of a parameter after its last update, at step ``t``.

    What a lazy update gives the penalty on the steps a parameter sat out:
    the rate for plain and momentum rules, and for adaptive rules the rate
    over the denominator their state (``second_moment``) had at that update
    (``t == 0``: no update yet, an empty state).
    """
    if code == ADAGRAD or code == RMSPROP:
        return lr / (math.sqrt(second_moment) + eps)
    if code == ADAM:
        if t == 0:
            return lr / eps
        return lr / (math.sqrt(second_moment / (1.0 - beta2**t)) + eps)
    return lr


@njit(**JIT)
def update(step, theta, grad, slots, t, lr, average_start):
    """Take step number ``t`` (counting from 1) of ``step.rule`` on every parameter, in place.

    :func:`step_coordinate` over every parameter, with the choice of rule
    taken once, outside the loops, so that they vectorize.
    """
    P = theta.shape[0]
    code = step.rule
    if code == MOMENTUM or code == NESTEROV:
        nesterov = code == NESTEROV
        for j in range(P):
            prox(theta, j, _momentum(step, theta, grad[j], slots[0], j, lr, nesterov), step.l2w, step.l1w)
    elif code == ADAGRAD or code == RMSPROP or code == ADAM:
        for j in range(P):
            prox(theta, j, _adaptive(step, theta, grad[j], slots, j, t, lr, code), step.l2w, step.l1w)
    else:
        for j in range(P):
            theta[j] -= lr * grad[j]
            prox(theta, j, lr, step.l2w, step.l1w)
        if code == ASGD and t > average_start:
            for j in range(P):
                _average(slots[0], theta, j, t, average_start)
