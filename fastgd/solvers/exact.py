"""Exact least squares from one pass: the normal equations of squared error, with any penalty.

One pass over any source sums the weighted Gram matrix of ``[x - shift, 1, y]``
(:func:`~fastgd.passes.add_gram`; ``shift`` is the first row on the columns
present in every row, so the centred second moments keep their digits, and 0
on sparse columns). The solve is in standardized coordinates: with an
intercept the columns are centred (the intercept then drops out), each is
divided by its standard deviation, and the penalty ``l2 * scale**2`` joins
the diagonal, which Cholesky factors. Without a penalty, or when Cholesky
fails (columns that add up to another, like a categorical column's
categories against the intercept), the solution of least norm in those
coordinates comes from the eigenvalues, with those below ``1e-12`` of the
largest taken as zero. With an L1 penalty (lasso, elastic net), coordinate
descent on the same matrix (:func:`~fastgd.kernels.coordinate.gram_lasso`)
runs until no coordinate moves by more than :data:`CD_TOL` of the largest.

The result is measured like any epoch (objective and optimality) from the
same sums, without a second pass: the objective is quadratic, so its value
and gradient at any parameters are exact functions of the Gram matrix
(:func:`gram_sums`). If rounding left it short of ``tol``, L-BFGS continues
from it.
The matrix has ``(d + 2)**2`` entries, and the solve holds a few of them:
the solver is for ``d`` up to :data:`GRAM_MAX`, and ``optimizer="auto"``
takes it up to :data:`AUTO_GRAM_MAX` features on sparse and categorical rows
and :data:`AUTO_DENSE_GRAM_MAX` on dense ones, where the pass costs ``d / 2``
multiplications a value against a few for a gradient pass.
"""

from dataclasses import replace

import numpy as np

from .._blas import one_thread
from ..kernels.coordinate import gram_lasso
from ..optim.space import gradient_to_standard
from ..passes import add_gram, add_gram_blas
from ..problem import constant_columns
from .lbfgs import Lbfgs

#: Features up to which the exact solver applies (a Gram matrix of 32 MiB).
GRAM_MAX = 2048
#: Features up to which ``optimizer="auto"`` takes it on sparse or coded rows (8 MiB matrices).
AUTO_GRAM_MAX = 1024
#: Features up to which ``optimizer="auto"`` takes it on dense rows.
AUTO_DENSE_GRAM_MAX = 256
#: Coordinate descent (L1) ends when a sweep moves no coordinate by more than this fraction of the largest.
CD_TOL = 1e-13
#: Sweeps after which coordinate descent stops (the fit then reports itself short of ``tol``).
CD_MAX_SWEEPS = 100_000
#: Times coordinate descent stops (sharing :data:`CD_MAX_SWEEPS`) to try its
#: support for the exact solution (see :func:`_lasso`).
SUPPORT_TRIES = 10
#: How far (relative) above the least-squares optimum a mini-batch fit that
#: met ``tol`` may lie and still claim convergence (see :func:`excess`).
MINIBATCH_GAP = 1e-3
#: Optima below this fraction of the starting objective fit the targets
#: (nearly) exactly: no relative gap to judge.
EXACT_FIT = 1e-12


def applies(problem, most=GRAM_MAX):
    """Whether the exact solver can fit ``problem``: squared error, one output,
    at most ``most`` features."""
    return problem.loss.name == "squared_error" and problem.n_out == 1 and problem.n_features <= most


def solves(problem, options):
    """Whether a whole fit of ``problem`` under ``options`` is solved exactly: asked for, or
    ``optimizer="auto"`` within the bounds of the module docstring."""
    if not options.full_batch:
        return False
    if options.optimizer == "exact":
        return applies(problem)  # else the driver refuses it, before any pass
    return options.auto and applies(problem, AUTO_GRAM_MAX if problem.source.sparse else AUTO_DENSE_GRAM_MAX)


class Exact:
    """The normal equations in one pass, then L-BFGS if rounding left the solution short of ``tol``."""

    def __init__(self, problem, options):
        self.problem = problem
        self.options = options
        self._gram = None
        #: The method, as ``optimizer_`` reports it: "exact", then the
        #: descent that continued, if rounding left the solve short of ``tol``.
        self.name = "exact"

    def gram(self):
        """``(G, shift)``: the sums of the pass (see :func:`gram`), taken once (the problem's, if it holds them)."""
        if self._gram is None:
            held = self.problem.gram
            self._gram = gram(self.problem) if held is None else (held[0].copy(), held[1])
        return self._gram

    def sums_at_start(self, theta):
        """``problem.sums(theta)`` from the Gram sums: no pass."""
        return gram_sums(self.problem, *self.gram(), theta)

    def run(self, state, epochs, after_epoch):
        problem = self.problem
        G, shift = self.gram()
        raw = solution(problem, G.copy(), shift)
        self._gram = None
        theta = problem.from_data_units(raw)
        theta *= problem.weights[2]  # features of scale 0 stay at 0
        sums = gram_sums(problem, G, shift, theta)
        problem.check_finite(sums, "solving the normal equations")
        state.theta = theta
        state.epochs += 1
        stop = after_epoch(state, problem.objective(sums, theta), theta, sums) == "stop"
        if stop or epochs <= 1 or self.options.tol is None:  # nothing to measure the solve against: done
            return None
        if problem.l1 > 0.0:  # L-BFGS cannot take an L1 penalty: FISTA continues
            from .full_batch import FullBatch
            from .start import UNMEASURED, base_rate

            options = replace(self.options, optimizer="accelerated")
            if state.rate_key == UNMEASURED:
                state.lr, state.rate_key = base_rate(problem, options, theta)
            self.name = "exact, then accelerated"
            return FullBatch(problem, options).run(state, epochs - 1, after_epoch)
        self.name = "exact, then lbfgs"
        return Lbfgs(problem, self.options).run(state, epochs - 1, after_epoch)


def excess(problem, theta, start):
    """How far, relative to it, the objective at solver parameters ``theta`` lies
    above the exact optimum, from one Gram pass; None where that does not apply.

    ``tol`` bounds the gradient, and relative to the start's that allows a
    mini-batch fit of a model that explains its targets closely, or of small
    ill-conditioned data, to stop far above the optimum (statsmodels'
    macrodata at B=1: 135%). For least squares within the exact solver's
    automatic bounds and without an L1 penalty, the optimum costs one more
    pass; ``start`` is the starting objective (see :data:`EXACT_FIT`).
    """
    bound = AUTO_GRAM_MAX if problem.source.sparse else AUTO_DENSE_GRAM_MAX
    if not applies(problem, bound) or problem.l1 > 0.0:
        return None
    G, shift = gram(problem, blas=True) if problem.gram is None else problem.gram
    best = problem.from_data_units(solution(problem, G.copy(), shift))
    best *= problem.weights[2]  # features of scale 0 stay at 0
    optimum = problem.objective(gram_sums(problem, G, shift, best), best)
    if not optimum > EXACT_FIT * abs(start):
        return None
    return (problem.objective(gram_sums(problem, G, shift, theta), theta) - optimum) / optimum


def gram(problem, blas=False):
    """``(G, shift)``: the weighted Gram matrix of ``[x - shift, 1, y]`` over
    ``problem``'s rows (one pass; see :func:`~fastgd.passes.add_gram`, or with
    ``blas`` :func:`~fastgd.passes.add_gram_blas`)."""
    source = problem.source
    d = problem.n_features
    # The first row is 0 on sparse columns (a shift would fill their zeros in).
    shift = source.first_row() if problem.fit_intercept else np.zeros(d)
    fold = add_gram_blas if blas else add_gram
    G = source.reduce(fold, (shift,), np.zeros((d + 2, d + 2)), np.add, columns=not blas)
    problem.check_finite(G, "summing the Gram matrix")
    return G, shift


def gram_sums(problem, G, shift, theta):
    """``problem.sums(theta)`` (gradient, loss and weight sums of squared error)
    from the sums ``G`` of :func:`gram`.

    With ``u = x - shift``, ``p = u @ w + c`` where ``c = b + shift @ w``: the
    error sum is ``e = sum(s (p - y))``, the gradient of the weights is
    ``U'S(p - y) + shift * e``, and the loss sum follows from those without
    another pass. Its rounding error grows with ``sum(s y**2)`` over the loss
    (a near-exact fit of large targets), and it is kept at least 0.
    """
    d = problem.n_features
    raw = problem.raw(theta)
    w, c = raw[:d], raw[d] + shift @ raw[:d]
    su, uy = G[:d, d], G[:d, d + 1]
    weight, sy, yy = G[d, d], G[d, d + 1], G[d + 1, d + 1]
    error = w @ su + c * weight - sy
    gu = G[:d, :d] @ w + c * su - uy
    total = np.empty(d + 3)
    total[:d] = gu + shift * error
    total[d] = error
    total[d + 1] = 0.5 * max(w @ (gu - uy) + c * (error - sy) + yy, 0.0)
    total[d + 2] = weight
    if problem.standardized:
        gradient_to_standard(total, problem.center, problem.inv_scale, 1)
    return total


def solution(problem, G, shift):
    """``[w, b]`` in data units minimising ``problem``'s objective, from the
    sums ``G`` of :func:`gram` (overwritten)."""
    d = problem.n_features
    weight = G[d, d]
    mean = G[:d, d] / weight  # of x - shift
    # In place: the matrices are the memory of this solver.
    C = G[:d, :d]
    C /= weight
    c = G[:d, d + 1] / weight
    if problem.fit_intercept:
        C -= np.outer(mean, mean)
        c -= mean * (G[d, d + 1] / weight)
    # else no centring: shift is 0
    scale = np.sqrt(np.maximum(np.diag(C), 0.0))
    used = ~constant_columns(scale, mean + shift)
    inv = np.where(used, 1.0 / np.where(used, scale, 1.0), 0.0)
    C *= inv[:, None]
    C *= inv[None, :]
    A = C
    A[np.diag_indices(d)] += problem.l2 * inv * inv
    rhs = c * inv
    if not used.all():
        A, rhs = A[np.ix_(used, used)], rhs[used]
    with one_thread(rhs.shape[0]):
        if problem.l1 > 0.0:
            beta = _lasso(np.ascontiguousarray(A), rhs, problem.l1 * inv[used])
        else:
            beta = _solve(A, rhs, problem.l2 > 0.0)
    w = np.zeros(d)
    w[used] = beta * inv[used]
    b = G[d, d + 1] / weight - (mean + shift) @ w if problem.fit_intercept else 0.0
    return np.r_[w, b]


def _lasso(A, rhs, l1w):
    """Coordinate descent on the Gram matrix, then the exact solution on the support it found.

    Coordinate descent gains a factor of about ``1 - 1 / condition`` a sweep:
    on star98's 20 collinear columns (condition 1.3e5) 100,000 sweeps left
    it at 3e-4 of optimality, and FISTA over the rows took it no further in
    1000 epochs. Given the support and signs, the optimum solves one linear
    system; it is kept only where the optimality conditions hold (signs as
    assumed, every coordinate at 0 within its threshold), else descent
    continues from where it was and the support is tried again.
    """
    beta = np.zeros(rhs.shape[0])
    for _ in range(SUPPORT_TRIES):
        sweeps = gram_lasso(A, rhs, l1w, beta, CD_TOL, CD_MAX_SWEEPS // SUPPORT_TRIES)
        exact = _on_support(A, rhs, l1w, beta)
        if exact is not None:
            return exact
        if sweeps < CD_MAX_SWEEPS // SUPPORT_TRIES:  # descent settled: nothing better to try
            return beta
    return beta


def _on_support(A, rhs, l1w, beta):
    """The lasso optimum if its support and signs are those of ``beta``, else None."""
    support = beta != 0.0
    signs = np.sign(beta[support])
    candidate = np.zeros_like(beta)
    if support.any():
        inner = A[np.ix_(support, support)]
        candidate[support] = _solve(inner, rhs[support] - l1w[support] * signs, True)
        if not np.all(np.sign(candidate[support]) == signs):
            return None
    slack = np.abs(A @ candidate - rhs)[~support] - l1w[~support]
    # Within rounding of the gradient's scale: the conditions hold.
    if np.any(slack > 1e-10 * max(np.abs(rhs).max(), 1e-300)):
        return None
    return candidate


def _solve(A, rhs, definite):
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    if rhs.shape[0] == 0:  # no column varies (one row, or constant columns)
        return rhs.copy()
    if definite:
        try:
            return cho_solve(cho_factor(A), rhs)
        except LinAlgError:
            pass
    values, vectors = np.linalg.eigh(A)
    keep = values > 1e-12 * max(values.max(), 0.0)
    return vectors[:, keep] @ ((vectors[:, keep].T @ rhs) / values[keep])
