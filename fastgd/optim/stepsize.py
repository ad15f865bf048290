"""Automatic step sizes from the curvature of the data."""

import numpy as np

#: Power iterations at most, and the relative change that ends them early.
POWER_ITERATIONS = 10
POWER_RTOL = 1e-2


def top_eigenvalue(matvec, n_params, fit_intercept, n_iter=POWER_ITERATIONS, rtol=POWER_RTOL):
    """Largest eigenvalue of ``A = X1.T @ W @ X1 / sum(W)`` by power iteration.

    Parameters
    ----------
    matvec : callable
        ``matvec(v)`` returns ``A @ v``; each call is one pass over the data.
    n_params : int
        ``d + 1``: the weights and the intercept column of ones.
    fit_intercept : bool
        Whether the column of ones belongs to ``X1``.

    Returns
    -------
    float
        ``||A v||`` for the last unit iterate ``v``: a lower bound on the
        eigenvalue that converges to it, and at least the Rayleigh quotient.
    """
    v = np.random.default_rng(0).standard_normal(n_params)
    if not fit_intercept:
        v[-1] = 0.0
    v /= np.linalg.norm(v)
    estimate = 0.0
    for _ in range(n_iter):
        av = matvec(v)
        if not fit_intercept:
            av[-1] = 0.0
        norm = float(np.linalg.norm(av))
        if norm == 0.0:
            return 0.0
        converged = abs(norm - estimate) <= rtol * norm
        estimate = norm
        if converged:
            break
        v = av / norm
    return estimate


def minibatch_smoothness(lipschitz, lipschitz_max, batch_size):
    """Expected smoothness of a ``batch_size`` mini-batch gradient.

    ``L_B = L + (L_max - L) / B`` interpolates between the full-batch
    constant ``L`` and the largest per-row constant ``L_max`` (Gower et al.,
    "SGD: general analysis and improved rates", ICML 2019, with n >> B).
    """
    return lipschitz + max(lipschitz_max - lipschitz, 0.0) / batch_size
