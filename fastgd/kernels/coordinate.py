"""Coordinate descent on a Gram matrix: L1 and elastic-net least squares once the pass is done.

The covariance form of glmnet's method (Friedman, Hastie and Tibshirani,
2010): the problem's data enter only through ``A`` and ``rhs``, so a sweep
costs O(d) per coordinate that moves, whatever the number of rows. Written
here because scikit-learn's Gram-matrix path is private (``enet_coordinate_descent_gram``)
and takes one L1 weight for all coordinates, where fastgd's penalty, being in
data units, weighs each standardized coordinate by ``1 / scale``.
"""

import numpy as np
from numba import njit

from .._config import JIT


@njit(**JIT)
def gram_lasso(A, rhs, l1w, beta, tol, max_sweeps):
    """Minimise ``beta @ A @ beta / 2 - rhs @ beta + sum(l1w * |beta|)`` in place from ``beta``.

    ``A`` is symmetric with a nonnegative diagonal (the L2 penalty already on
    it). Sweeps run over all coordinates, then over the nonzero ones until
    they settle, as glmnet does; the descent ends when a full sweep moves no
    coordinate by more than ``tol`` times the largest ``|beta|``, or after
    ``max_sweeps`` sweeps. Returns the number of sweeps.
    """
    d = rhs.shape[0]
    q = A @ beta  # kept equal to A @ beta
    sweeps = 0
    full = True
    while sweeps < max_sweeps:
        sweeps += 1
        largest = change = 0.0
        for j in range(d):
            if not full and beta[j] == 0.0:
                continue
            a = A[j, j]
            if a <= 0.0:
                continue
            rho = rhs[j] - q[j] + a * beta[j]
            new = 0.0
            if rho > l1w[j]:
                new = (rho - l1w[j]) / a
            elif rho < -l1w[j]:
                new = (rho + l1w[j]) / a
            delta = new - beta[j]
            if delta != 0.0:
                beta[j] = new
                for k in range(d):
                    q[k] += A[j, k] * delta  # A[k, j]: a row is contiguous
                change = max(change, abs(delta))
            largest = max(largest, abs(new))
        settled = change <= tol * max(largest, 1e-300)
        if settled and full:
            break
        full = settled  # the active set settled: check every coordinate again
    return sweeps
