"""What to minimise: data, loss, penalty and coordinates. No solver state here."""

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import losses
from .data.base import nonfinite_message
from .exceptions import DivergenceError
from .optim import rules, stepsize
from .passes import add_constant_losses, add_stats, add_sums, combine_stats
from .optim.space import from_raw, gradient_to_standard, to_raw


def constant_columns(scale, center):
    """Which columns of standard deviation ``scale`` and mean ``center`` are constant.

    Their spread is within rounding of their magnitude (a column of one
    value has scale 0 exactly: the moments are summed shifted by a row), or
    too small to divide by. The test is relative: a column of values near
    1e-12 varies as much as one near 1.
    """
    return (scale <= 1e-12 * np.abs(center)) | (scale < np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class Problem:
    """The objective over the rows ``(x_i, y_i, s_i)`` of ``source``.

    ``sum_i s_i * loss(p_i, y_i) / sum_i s_i + l2 / 2 * ||w||**2 + l1 * ||w||_1``
    with ``p_i = x_i @ w + b`` (one row of ``w``, ``b`` per output for the
    softmax). Intercepts are never penalised.

    With ``mean`` and ``scale`` (standardization) the solver's coordinates are
    those of the standardized columns (see :mod:`fastgd.optim.space`) while
    the objective, penalty included, stays the one above in data units: the
    standardization changes the path, not the answer. A column of scale 0 has
    its weight fixed at 0.
    """

    source: object
    loss: losses.Loss
    loss_param: float = 0.0
    n_out: int = 1
    l2: float = 0.0
    l1: float = 0.0
    fit_intercept: bool = True
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    #: ``(G, shift)`` of :func:`~fastgd.solvers.exact.gram`, when a whole fit is
    #: solved exactly: the column moments come from it, without a pass of their own.
    gram: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def n_features(self):
        return self.source.n_features

    @property
    def n_params(self):
        return self.n_out * (self.n_features + 1)

    @property
    def standardized(self):
        return self.mean is not None

    @cached_property
    def measuring_coordinates(self):
        """``(mean, scale)`` of the columns, for measuring optimality in standardized units:
        the solver's own when it standardizes, else from one pass (the first time)."""
        if self.standardized:
            return self.center, np.where(self.inv_scale > 0, self.scale, 0.0)
        mean, std, _ = self.column_moments()
        return mean, std

    @property
    def coordinates(self):
        """``(mean, scale)`` of the standardized coordinates, or None for data units."""
        return None if self.mean is None else (self.mean, self.scale)

    @cached_property
    def center(self):
        return np.zeros(self.n_features) if self.mean is None else self.mean

    @cached_property
    def inv_scale(self):
        if self.scale is None:
            return np.ones(self.n_features)
        return np.divide(1.0, self.scale, out=np.zeros(self.n_features), where=self.scale > 0)

    @cached_property
    def weights(self):
        """Per-parameter ``(l2w, l1w, mask)``: penalty weights and trainable mask."""
        d = self.n_features
        inv = self.inv_scale
        l2w = np.zeros((self.n_out, d + 1))
        l1w = np.zeros((self.n_out, d + 1))
        mask = np.zeros((self.n_out, d + 1))
        l2w[:, :d] = self.l2 * inv * inv
        l1w[:, :d] = self.l1 * inv
        mask[:, :d] = inv > 0
        mask[:, d] = self.fit_intercept
        return l2w.ravel(), l1w.ravel(), mask.ravel()

    # -- coordinates

    def raw(self, theta, n_out=None):
        """Parameters in data units (``theta`` itself when not standardized)."""
        if not self.standardized:
            return theta
        out = np.empty_like(theta)
        to_raw(theta, self.center, self.inv_scale, n_out or self.n_out, out)
        return out

    def from_data_units(self, raw):
        """Solver coordinates of parameters given in data units."""
        if not self.standardized:
            return raw.copy()
        theta = np.empty_like(raw)
        from_raw(raw, self.center, np.where(self.inv_scale > 0, self.scale, 0.0), self.n_out, theta)
        return theta

    # -- passes

    def sums(self, theta, loss=None, n_out=None):
        """Gradient (in solver coordinates), loss and weight sums: ``(P + 2,)``."""
        loss = self.loss if loss is None else loss
        n_out = n_out or self.n_out
        raw = self.raw(theta, n_out)
        total = self.source.reduce(
            add_sums, (raw, loss.code, self.loss_param, n_out), np.zeros(theta.shape[0] + 2), np.add,
            columns=n_out == 1,
        )
        if self.standardized:
            gradient_to_standard(total, self.center, self.inv_scale, n_out)
        return total

    def start_objective(self, theta):
        """The objective at ``theta``: from the targets alone when every weight
        is 0 (a fresh start: each prediction is its intercept), else one pass."""
        d = self.n_features
        weights = theta.reshape(self.n_out, d + 1)
        if np.any(weights[:, :d]):
            return self.objective(self.sums(theta), theta)
        # With zero weights the standardized intercept is the data-unit one.
        b = np.ascontiguousarray(weights[:, d])
        total = self.source.reduce(add_constant_losses, (b, self.loss.code, self.loss_param), np.zeros(2), np.add)
        return total[0] / total[1]

    def penalty(self, theta):
        l2w, l1w, _ = self.weights
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported, not warned
            return 0.5 * float(l2w @ (theta * theta)) + float(l1w @ np.abs(theta))

    def gradient(self, sums, doing="descending"):
        """The mean loss's gradient in solver coordinates, from pass sums."""
        self.check_finite(sums, doing)
        grad = np.empty(self.n_params)
        rules.gradient(sums, 1.0 / sums[self.n_params + 1], self.weights[2], grad)
        return grad

    def objective(self, sums, theta):
        P = theta.shape[0]
        return sums[P] / sums[P + 1] + self.penalty(theta)

    def mean_loss(self, theta):
        """The mean loss without the penalty (a validation score)."""
        sums = self.sums(theta)
        self.check_finite(sums, "measuring the validation loss")
        return sums[-2] / sums[-1]

    def column_moments(self):
        """Weighted ``(mean, std, root mean square)`` of each column, in one pass (none with ``gram``)."""
        if self.gram is not None:
            G, shift = self.gram
            d = self.n_features
            sums, weight = np.stack([G[:d, d], np.diag(G)[:d]]), G[d, d]
        else:
            shift, sums, extremes = self._stats(np.zeros(self.n_features), np.ones(self.n_features))
            weight = extremes[1]
        mean = shift + sums[0] / weight
        variance = np.maximum(sums[1] / weight - (sums[0] / weight) ** 2, 0.0)
        return mean, np.sqrt(variance), np.sqrt(variance + mean * mean)

    def row_extremes(self):
        """``(max_i s_i ||x_i||**2, sum_i s_i, max_i s_i)`` in solver coordinates."""
        return self._stats(self.center, self.inv_scale)[2]

    def _stats(self, center, inv_scale):
        """Shift, column sums and row extremes (see ``column_stats``) over all rows."""
        # Any row is close enough to the mean to keep the variance exact.
        shift = self.source.first_row()
        init = (np.zeros((2, self.n_features)), np.zeros(3))
        total, extremes = self.source.reduce(add_stats, (shift, center, inv_scale), init, combine_stats)
        self.check_finite(total, "measuring the columns")
        return shift, total, extremes

    # -- curvature

    def curvature(self):
        """Bound on the loss's second derivative in the prediction (see :meth:`Loss.curvature`)."""
        return self.loss.curvature(self.target_mean)

    def target_mean(self):
        """Weighted mean of the (encoded) target, from one pass."""
        sums = self.sums(np.zeros(self.n_features + 1), losses.SQUARED_ERROR, 1)
        self.check_finite(sums, "measuring the target")
        d = self.n_features
        return -sums[d] / sums[d + 2]

    def lipschitz(self):
        """Lipschitz constant of the mean loss's gradient, ``L``, in solver coordinates.

        The penalty is left out: the update rules apply it by its proximal
        operator.
        """
        d = self.n_features

        def matvec(v):
            total = self.sums(v, losses.GRAM, 1)
            self.check_finite(total, "estimating the step size")
            return total[: d + 1] / total[d + 2]

        eig = stepsize.top_eigenvalue(matvec, d + 1, self.fit_intercept)
        lipschitz = self.curvature() * eig
        if not math.isfinite(lipschitz):
            raise ValueError(
                "the curvature of the objective overflowed while estimating the step size; the data "
                "values are too large: scale them down, or use standardize=True"
            )
        # Rounded to 7 significant digits: row and column layouts sum in
        # different orders, and the last bits of the estimate should not make
        # their fits differ.
        return float(f"{lipschitz:.6e}")

    def lipschitz_max(self, extremes):
        """Largest per-row Lipschitz constant ``L_max``, relative to the mean weight."""
        norm_max, weight_sum, weight_max = extremes
        row_max = norm_max + (weight_max if self.fit_intercept else 0.0)
        mean_weight = weight_sum / self.source.n_rows
        return self.curvature() * row_max / mean_weight

    # -- errors

    def bad_data(self):
        """A message naming the first NaN or infinity in the data, or None."""
        return self.source.first_message(nonfinite_message, (self.source.feature_names,))

    def check_finite(self, values, doing, learning_rate=None):
        """Raise a clear error when ``values`` hold NaN or infinity."""
        if np.all(np.isfinite(values)):
            return
        bad = self.bad_data()
        if bad is not None:
            raise ValueError(f"{bad}; remove or impute non-finite values before fitting")
        if learning_rate is None:
            raise ValueError(
                f"the objective overflowed while {doing}; the data values are too large, "
                "scale them down"
            )
        raise DivergenceError(f"the objective became non-finite with learning_rate={learning_rate:.6g}")
