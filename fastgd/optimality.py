"""First-order optimality: the measure ``converged_`` is judged on.

At the parameters ``theta`` the measure is the largest violation of the
optimality (KKT) conditions of the objective, each parameter in the
coordinates of standardized columns:

- a weight away from 0: ``|g + l2 * w + l1 * sign(w)|``, the gradient of the
  objective there;
- a weight at 0: ``max(|g| - l1, 0)``, how far the gradient leaves the L1
  penalty's subdifferential (the norm of the proximal gradient mapping in the
  limit of a small step);
- an intercept: ``|g|``.

``g`` is the gradient of the mean loss. The measure is 0 exactly at the
optimum, does not depend on the units of the features (they are
standardized for it, whatever the solver's own coordinates), and falls out of
the fused pass that computes the objective. Relative to its value at the
starting model (zero weights, the intercept at its start) it gives the number
``tol`` bounds.
"""

import numpy as np

from .optim.space import gradient_to_standard


def violations(problem, theta, sums):
    """Per-parameter KKT violations at solver parameters ``theta``, from pass ``sums`` at ``theta``."""
    grad = problem.gradient(sums, "measuring optimality")
    l2w, l1w, mask = problem.weights
    if not problem.standardized:
        theta, grad, l2w, l1w, mask = _standardized(problem, theta, grad, mask)
    moved = grad + l2w * theta + l1w * np.sign(theta)
    at_zero = np.maximum(np.abs(grad) - l1w, 0.0)
    return np.where(theta != 0.0, np.abs(moved), at_zero) * (mask > 0)


def measure(problem, theta, sums):
    """The largest KKT violation (see the module docstring)."""
    return float(np.max(violations(problem, theta, sums), initial=0.0))


def _standardized(problem, theta, grad, mask):
    """Data-unit parameters, gradient, penalty weights and mask in standardized coordinates.

    With ``theta_std = w * scale`` and the intercept absorbing ``mean @ w``, the
    gradient maps as in :func:`~fastgd.optim.space.gradient_to_standard` and the
    penalties weigh ``l2 / scale**2`` and ``l1 / scale`` per standardized unit.
    A constant column (scale 0) has no standardized coordinate.
    """
    mean, scale = problem.measuring_coordinates
    n_out = problem.n_out
    inv_scale = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    grad = grad.copy()
    gradient_to_standard(grad, mean, inv_scale, n_out)
    per_weight = np.tile(np.append(inv_scale, 0.0), n_out)
    theta = theta * np.tile(np.append(scale, 1.0), n_out)
    exists = np.tile(np.append(scale > 0, True), n_out)
    return theta, grad, problem.l2 * per_weight**2, problem.l1 * per_weight, mask * exists
