"""Limited-memory BFGS in full batch: one pass per step when the full step is accepted.

The direction comes from the two-loop recursion over the last
``LBFGS_MEMORY`` pairs of steps and gradient changes (each kept with its
inner product); the step length from
backtracking until the Armijo condition holds (each trial one pass). Where
the loss is linear in the parameters, as the Huber loss far from its
targets, the gradient does not change, no pair forms, and steepest-descent
steps of the first length crawl (an intercept 10,000 away took 1.0 an
epoch). So once a step's pair is rejected for want of curvature, the next
steepest-descent step, if accepted at once, doubles while the objective
keeps falling as steeply (Wolfe's curvature condition, :data:`WOLFE`).
The penalty, smooth here (L2 only), is part of objective and gradient.
"""

import math

import numpy as np
from numba import njit

from .._config import JIT

#: Curvature pairs L-BFGS keeps at most (measured on real data: 10 pairs
#: left ill-conditioned problems short of a tight optimum after 1000 epochs,
#: 40 reached it in about 100), and the bytes they may take.
LBFGS_MEMORY = 40
LBFGS_MEMORY_BYTES = 1 << 27
ARMIJO = 1e-4
#: An accepted steepest-descent step doubles while the slope along it stays
#: below this fraction of the starting slope (the usual curvature constant).
WOLFE = 0.9
#: Steps double up to this length at most.
LARGEST_STEP = 1e20
#: A line search that halves the step below this has found no decrease.
SMALLEST_STEP = 1e-20
#: Parameters times pairs up to which the two-loop runs compiled on the pairs
#: stacked into arrays: there numpy's cost per call (about a microsecond, a
#: few per pair) is most of a small fit; above, the loops are memory-bound.
COMPILED_TWO_LOOP = 1 << 16


class Lbfgs:
    """L-BFGS with a backtracking line search (see the module docstring)."""

    #: The method, as ``optimizer_`` reports it.
    name = "lbfgs"

    def __init__(self, problem, options):
        self.problem = problem
        self.options = options

    def run(self, state, epochs, after_epoch):
        """Run up to ``epochs`` steps; returns why the descent stalled, or None."""
        problem = self.problem
        l2w = problem.weights[0]
        theta = state.theta
        sums = problem.sums(theta)
        problem.check_finite(sums, "evaluating the starting point")
        f = problem.objective(sums, theta)
        if math.isnan(state.watch.start):
            state.watch.start = f  # divergence is judged against it
        grad = problem.gradient(sums) + l2w * theta
        pairs = state.inner.pairs
        memory = int(min(LBFGS_MEMORY, max(3, LBFGS_MEMORY_BYTES // (16 * theta.shape[0]))))
        flat = False  # the last step's gradient change showed no curvature
        for _ in range(epochs):
            direction = -_two_loop(grad, pairs, l2w)
            slope = float(grad @ direction)
            if slope >= 0.0:  # not a descent direction: forget the curvature pairs
                pairs.clear()
                direction, slope = -grad, -float(grad @ grad)
            steepest, backtracked = not pairs, False
            step = 1.0 if pairs else min(1.0, 1.0 / max(np.abs(grad).sum(), 1e-300))
            while True:
                new = theta + step * direction
                new_sums = problem.sums(new)
                problem.check_finite(new_sums, "descending", step)
                new_f = problem.objective(new_sums, new)
                if new_f <= f + ARMIJO * step * slope:
                    break
                if step < SMALLEST_STEP:
                    if not pairs:
                        return "the line search found no step that lowers the objective"
                    pairs.clear()  # a stale curvature estimate: retry along the gradient
                    direction, slope = -grad, -float(grad @ grad)
                    steepest, backtracked = True, False
                    step = min(1.0, 1.0 / max(np.abs(grad).sum(), 1e-300))
                    continue
                step *= 0.5
                backtracked = True
            new_grad = problem.gradient(new_sums) + l2w * new
            if flat and steepest and not backtracked:
                new, new_sums, new_f, new_grad = self._extrapolate(theta, f, direction, slope, step, new, new_sums,
                                                                   new_f, new_grad)
            s, yk = new - theta, new_grad - grad
            ys = float(yk @ s)
            flat = not ys > 1e-12 * (s @ s)
            if not flat:
                pairs.append((s, yk, ys))
                del pairs[:-memory]
            theta, grad, f = new, new_grad, new_f
            state.theta = theta
            state.epochs += 1
            if after_epoch(state, f, theta, new_sums) == "stop":
                break
        return None

    def _extrapolate(self, theta, f, direction, slope, step, new, new_sums, new_f, new_grad):
        """Double the accepted step ``theta -> new`` while the slope along
        ``direction`` stays below ``WOLFE * slope`` and the objective falls
        (see the module); returns the last point taken, its sums, objective and gradient."""
        problem = self.problem
        while float(new_grad @ direction) < WOLFE * slope and step < LARGEST_STEP:
            trial = theta + 2.0 * step * direction
            trial_sums = problem.sums(trial)
            if not np.all(np.isfinite(trial_sums)):
                break
            trial_f = problem.objective(trial_sums, trial)
            if not (trial_f < new_f and trial_f <= f + ARMIJO * 2.0 * step * slope):
                break
            step *= 2.0
            new, new_sums, new_f = trial, trial_sums, trial_f
            new_grad = problem.gradient(new_sums) + problem.weights[0] * new
        return new, new_sums, new_f, new_grad


def _two_loop(grad, pairs, l2w):
    """The L-BFGS product of the inverse-Hessian estimate with ``grad``.

    The starting estimate is diagonal, ``1 / (c + l2w)``: the penalty's
    curvature is known exactly, and standardization can make it very uneven
    across coordinates; ``c`` estimates the data's from the last pair.
    """
    if pairs and grad.shape[0] * len(pairs) <= COMPILED_TWO_LOOP:
        S = np.array([s for s, _, _ in pairs])
        Y = np.array([y for _, y, _ in pairs])
        return _two_loop_stacked(grad, S, Y, np.array([ys for _, _, ys in pairs]), l2w)
    q = grad.copy()
    work = np.empty_like(q)  # one buffer for every scaled vector: no allocation per pair
    alphas = []
    for s, y, ys in reversed(pairs):
        alpha = (s @ q) / ys
        q -= np.multiply(alpha, y, out=work)
        alphas.append(alpha)
    if pairs:
        s, y, ys = pairs[-1]
        data = y - l2w * s
        curvature = (data @ data) / (s @ data) if s @ data > 0 else (y @ y) / ys
        q /= curvature + l2w
    for (s, y, ys), alpha in zip(pairs, reversed(alphas)):
        q += np.multiply(alpha - (y @ q) / ys, s, out=work)
    return q


@njit(inline="always", **JIT)
def _dot(a, b):
    total = 0.0
    for j in range(a.shape[0]):
        total += a[j] * b[j]
    return total


@njit(**JIT)
def _two_loop_stacked(grad, S, Y, ys, l2w):
    """:func:`_two_loop` over pairs stacked as rows of ``S`` and ``Y``, oldest first."""
    m, P = S.shape
    q = grad.copy()
    alphas = np.empty(m)
    # Loops rather than np.dot, whose BLAS call a cold first fit compiled for 0.15 s.
    for k in range(m - 1, -1, -1):
        alpha = _dot(S[k], q) / ys[k]
        for j in range(P):
            q[j] -= alpha * Y[k, j]
        alphas[k] = alpha
    s, y = S[m - 1], Y[m - 1]
    sd = dd = 0.0
    for j in range(P):
        data = y[j] - l2w[j] * s[j]
        sd += s[j] * data
        dd += data * data
    curvature = dd / sd if sd > 0 else _dot(y, y) / ys[m - 1]
    for j in range(P):
        q[j] /= curvature + l2w[j]
    for k in range(m):
        beta = alphas[k] - _dot(Y[k], q) / ys[k]
        for j in range(P):
            q[j] += beta * S[k, j]
    return q
